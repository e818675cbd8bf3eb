package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// cliCommand is one line of the CLI's table, in the way amtool and promtool
// are built: the words that name it, its arguments and what it does (for
// the help), and the function that parses its flags and runs it (exit 0
// done, 1 failed or refused, 2 bad usage).
type cliCommand struct {
	name    string // words after "recpolicy", e.g. "recordings list"
	args    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// commandTable is every command of the CLI.
func commandTable() []cliCommand {
	requests := func(step string) func(context.Context, []string, io.Writer, io.Writer) int {
		return func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
			return requestsStep(ctx, step, args, stdout, stderr)
		}
	}
	return []cliCommand{
		{"run", "--config FILE", "run the daemon", runDaemon},
		{"rules check", "FILE...", "check rules files", rulesCheck},
		{"rules test", "FILE --from X --to Y [--via TRUNK] [--party Z]...", "what the daemon decides for parties talking together (X, Y, Z: a phone, NUMBER@TRUNK, or a number)", rulesTest},
		{"rules show", "FILE", "the rules, extensions by department", rulesShow},
		{"migrate", "--config FILE", "bring the archive's schema up to date", cmdMigrate},
		{"report", "--config FILE --month YYYY-MM [--department ID] [--format html|pdf|csv] [--out FILE]", "the month's compliance report: coverage recomputed from the call records", cmdReport},
		{"doctor", "--config FILE [--asterisk-etc DIR] [--daemon-user USER] [--json]", "check everything the daemon depends on, against the running PBX", cmdDoctor},
		{"recordings list", "--config FILE [--extension N[,N]] [--department ID] [--direction inbound|outbound|other] [--since T] [--until T] [--number N] [--json] [--limit N]", "recordings you may see", recordingsList},
		{"calls list", "--config FILE [same filters]", "call records you may see", callsList},
		{"recordings get", "ID --config FILE --out FILE (--purpose TEXT | --request N)", "a copy of one recording, logged", recordingsGet},
		{"requests add", "--config FILE ...", "register a written request", requestsAdd},
		{"requests list", "--config FILE", "the register of written requests", requestsList},
		{"requests show", "N --config FILE", "one request", requests("show")},
		{"requests decide", "N --config FILE (--grant | --refuse) --note TEXT", "the IT department's opinion; decided when the Greffe's agrees", requests("decide")},
		{"requests close", "N --config FILE ...", "close a request once its copies are destroyed", requests("close")},
		{"requests package", "N --config FILE --to NAME --via HOW --out FILE --passphrase-file P [--destroy-by DATE]", "the recordings of a granted request, signed and encrypted for its requester", requestsPackage},
		{"requests copies", "--config FILE [--outstanding] [--json]", "the packages that left, and whose destruction is not confirmed", requestsCopies},
		{"requests confirm-destruction", "N --transmission T --statement TEXT --config FILE", "record a holder's confirmation that the copies are destroyed", requestsConfirm},
		{"package keygen", "--out FILE", "make the city's key that signs transmission packages", packageKeygen},
		{"package verify", "FILE --passphrase-file P [--public-key PEM]", "check a transmission package, as its requester would", packageVerify},
		{"access log", "--config FILE [--login NAME] [--since T] [--until T] [--json]", "who accessed what, when, why", accessLog},
		{"access verify", "--config FILE [--json]", "prove the access log whole: no row altered, removed or added", accessVerify},
		{"recordings destroy", "ID|PATH --config FILE --reason TEXT --by NAME [--early REF] [--dry-run]", "destroy one recording, logged", cmdRecordingsDestroy},
		{"hold add", "--config FILE ...", "keep recordings past their retention (complaint, litigation)", holdAdd},
		{"hold release", "ID --config FILE ...", "release a hold", holdRelease},
		{"hold list", "--config FILE", "the holds", holdList},
		{"export", "--training --config FILE ...", "a de-identified training copy", exportTraining},
		{"export list", "--config FILE", "the training copies", exportList},
		{"export redactions", "--config FILE", "what was masked in each redacted training copy, and who confirmed it", exportRedactions},
		{"retention purge", "--config FILE [--dry-run] [--accept-gap]", "destroy what the retention classes no longer keep (the nightly job)", retentionPurge},
		{"retention verify", "--config FILE", "check every file against its checksum", retentionVerify},
		{"retention destroy", "ID --config FILE ...", "destroy one recording, logged", func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
			return retentionDestroy(ctx, "recpolicy retention destroy", args, false, stdout, stderr)
		}},
		{"retention log", "--config FILE", "the destruction log", retentionLog},
		{"console", "--config FILE", "the web console (HTTPS), its own process", runConsole},
		{"users add", "LOGIN --config FILE [--name TEXT] < password", "a local account of the console", usersCmd("add", os.Stdin)},
		{"users passwd", "LOGIN --config FILE < password", "change a local account's password (ends its sessions)", usersCmd("passwd", os.Stdin)},
		{"users disable", "LOGIN --config FILE", "disable a local account (ends its sessions)", usersCmd("disable", nil)},
		{"users enable", "LOGIN --config FILE", "enable it again", usersCmd("enable", nil)},
		{"users list", "--config FILE", "the local accounts", usersCmd("list", nil)},
		{"quarantine list", "--config FILE [--json]", "what could not be archived", quarantineList},
		{"quarantine replay", "--config FILE [--json]", "try it again after a fix", quarantineReplay},
		{"version", "", "the version", nil},
	}
}

// usageText is the help, made from the table.
func usageText(table []cliCommand) string {
	var b strings.Builder
	b.WriteString("usage:\n")
	for _, c := range table {
		fmt.Fprintf(&b, "  recpolicy %s", c.name)
		if c.args != "" {
			b.WriteString(" " + c.args)
		}
		b.WriteString("\n      " + c.summary + "\n")
	}
	return b.String()
}

// dispatch runs the command args name (the table's entry whose words are
// the longest prefix of args) with ctx, the one context of the command:
// main's is cancelled by SIGINT and SIGTERM.
func dispatch(ctx context.Context, table []cliCommand, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText(table))
		return 2
	}
	switch args[0] {
	case "version", "--version":
		fmt.Fprintln(stdout, "recpolicy", version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usageText(table))
		return 0
	}
	var best *cliCommand
	bestLen := 0
	for i := range table {
		words := strings.Fields(table[i].name)
		if len(words) <= len(args) && slices.Equal(words, args[:len(words)]) && len(words) > bestLen {
			best, bestLen = &table[i], len(words)
		}
	}
	if best != nil && best.run != nil {
		return best.run(ctx, args[bestLen:], stdout, stderr)
	}
	// A group named without its subcommand, or with an unknown one.
	var subs []cliCommand
	for _, c := range table {
		if words := strings.Fields(c.name); len(words) > 1 && words[0] == args[0] {
			subs = append(subs, c)
		}
	}
	if len(subs) > 0 {
		msg := "name a subcommand"
		if len(args) > 1 {
			msg = fmt.Sprintf("unknown subcommand %q", args[1])
		}
		fmt.Fprintf(stderr, "recpolicy %s: %s:\n%s", args[0], msg, strings.TrimPrefix(usageText(subs), "usage:\n"))
		return 2
	}
	fmt.Fprintf(stderr, "recpolicy: unknown command %q\n%s", args[0], usageText(table))
	return 2
}

// group runs the commands of one group: group("calls")(["list", …]) is
// `recpolicy calls list …`.
func group(name string) func([]string, io.Writer, io.Writer) int {
	return func(args []string, stdout, stderr io.Writer) int {
		return dispatch(context.Background(), commandTable(), append([]string{name}, args...), stdout, stderr)
	}
}

// commandFlags is every archive command's flag set-up: a flag set named
// for the command, its messages to stderr, and --config.
func commandFlags(name string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs, fs.String("config", "", "daemon configuration file (required)")
}
