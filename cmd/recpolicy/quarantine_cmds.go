package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/villedemercier/recpolicy/archive/ingest"
)

// recpolicy quarantine list|replay --config FILE [--json]
//
// The quarantine file (archive.spool_dir/quarantine.jsonl) keeps what the
// daemon could not archive: a malformed Cdr event, a row the database
// refused for good. list shows it; replay tries it again after a fix.
func quarantineList(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return quarantine(ctx, "list", args, stdout, stderr)
}

func quarantineReplay(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return quarantine(ctx, "replay", args, stdout, stderr)
}

func quarantine(ctx context.Context, sub string, args []string, stdout, stderr io.Writer) int {
	name := "recpolicy quarantine " + sub
	fs, cfgFile := commandFlags(name, stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if rc := parseFlagsOnly(fs, args, stderr, name); rc != 0 {
		return rc
	}
	env, err := retentionEnv(ctx, *cfgFile, name)
	if err != nil {
		return exitCode(stderr, name, err)
	}
	defer env.store.Close()
	spool := env.cfg.Archive.SpoolDir
	if spool == "" {
		return exitCode(stderr, name, badUsage("archive.spool_dir is not set in %s", *cfgFile))
	}
	if sub == "list" {
		recs, err := ingest.ReadQuarantine(spool)
		if err != nil {
			return exitCode(stderr, name, err)
		}
		if *asJSON {
			return writeJSON(stdout, stderr, name, recs)
		}
		printQuarantine(stdout, recs, env.rules.Location())
		return 0
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	rep, err := env.ingest.ReplayQuarantine(ctx, spool, env.rules.Location())
	if err != nil {
		return exitCode(stderr, name, dbHint(err, *cfgFile))
	}
	if *asJSON {
		return writeJSON(stdout, stderr, name, rep)
	}
	printQuarantine(stdout, rep.Kept, env.rules.Location())
	fmt.Fprintf(stdout, "replayed: %d archived of %d tried; %d still in quarantine", rep.Archived, rep.Tried, len(rep.Kept))
	if rep.SavedAs != "" {
		fmt.Fprintf(stdout, "; the file as it was is kept as %s", rep.SavedAs)
	}
	fmt.Fprintln(stdout)
	if len(rep.Kept) > 0 {
		return 1
	}
	return 0
}

// printQuarantine lists quarantined records: when, what, why.
func printQuarantine(w io.Writer, recs []ingest.QuarantineRecord, loc *time.Location) {
	if len(recs) == 0 {
		fmt.Fprintln(w, "the quarantine is empty")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "WHEN\tWHAT\tID\tREASON")
	for _, r := range recs {
		what, id := "spool file", r.SpoolFile
		switch {
		case r.Event != nil:
			what, id = "Cdr event", eventField(r.Event, "UniqueID")
		case r.CDR != nil:
			what, id = "call record", r.CDR.UniqueID
		case r.Recording != nil:
			what, id = "recording", r.Recording.Path
		case r.Rules != nil:
			what, id = "rules version", r.Rules.SHA256
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Time.In(loc).Format("2006-01-02 15:04:05"), what, id, r.Reason)
	}
	tw.Flush()
}

// eventField is a field of a quarantined event.
func eventField(fields []ingest.Field, key string) string {
	for _, f := range fields {
		if f.Key == key {
			return f.Value
		}
	}
	return ""
}
