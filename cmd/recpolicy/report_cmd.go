package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/villedemercier/recpolicy/archive/register"
	"github.com/villedemercier/recpolicy/internal/report"
)

// cmdReport runs `recpolicy report --month YYYY-MM [--department ID]
// --format html|pdf|csv [--out FILE]`: the month's compliance report
// (administrators only; logged).
func cmdReport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const name = "recpolicy report"
	fs, cfgFile := commandFlags(name, stderr)
	month := fs.String("month", "", "the month, YYYY-MM (required)")
	dept := fs.String("department", "", "one department's id (recpolicy rules show lists them); default the whole city")
	format := fs.String("format", report.FormatHTML, "html, pdf or csv")
	out := fs.String("out", "", "a new file to write (default: the standard output)")
	pbx := fs.String("pbx-cdr-csv", "", "the PBX's own call records, cdr_csv's Master.csv (default: archive.pbx_cdr_csv)")
	if rc := parseFlagsOnly(fs, args, stderr, name); rc != 0 {
		return rc
	}
	switch *format {
	case report.FormatHTML, report.FormatPDF, report.FormatCSV:
	default:
		return exitCode(stderr, name, badUsage("--format %q: give html, pdf or csv", *format))
	}
	if *month == "" {
		return exitCode(stderr, name, badUsage("--month is required, e.g. --month %s", report.PreviousMonth(time.Now(), time.Local)))
	}
	var create func(string) (*os.File, error)
	if *out != "" {
		var err error
		if create, err = outFile(*out); err != nil {
			return exitCode(stderr, name, err)
		}
	}
	env, err := authorizedEnv(ctx, *cfgFile, func(ctx context.Context, env *archiveEnv) error {
		return env.authorize(ctx, name, *month+" "+*dept, true)
	})
	if err != nil {
		return exitCode(stderr, name, err)
	}
	defer env.store.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	pbxCSV := env.cfg.Archive.PBXCDRCSV
	if *pbx != "" {
		pbxCSV = *pbx
	}
	rep, err := report.Make(ctx, env.store, env.rules, env.cfg.RulesFile, pbxCSV, *month, *dept, time.Now())
	if err != nil {
		return exitCode(stderr, name, dbHint(err, *cfgFile))
	}
	w := stdout
	var f *os.File
	if create != nil {
		if f, err = create(*out); err != nil {
			return exitCode(stderr, name, fmt.Errorf("--out: %w", err))
		}
		w = f
	}
	loc := env.rules.Location()
	switch *format {
	case report.FormatHTML:
		err = rep.HTML(w, report.Page{Loc: loc})
	case report.FormatCSV:
		err = rep.CSV(w, loc)
	case report.FormatPDF:
		err = rep.PDF(ctx, w, loc)
	}
	if f != nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(*out)
		}
	}
	if err != nil {
		return exitCode(stderr, name, err)
	}
	if err := env.audit(ctx, name, *month+" "+*dept, "", nil, register.Granted, map[string]any{"format": *format, "missing": len(rep.Missing)}); err != nil {
		return exitCode(stderr, name, err)
	}
	if f != nil {
		fmt.Fprintf(stdout, "report %s%s: %d external calls, %d recorded, %d missing; %s\n", *month, map[bool]string{true: " " + *dept, false: ""}[*dept != ""],
			rep.Total.External, rep.Total.Recorded, len(rep.Missing), *out)
	}
	return 0
}
