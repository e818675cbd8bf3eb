package report

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/villedemercier/recpolicy/archive"
	"github.com/villedemercier/recpolicy/archive/register"
	store "github.com/villedemercier/recpolicy/archive/report"
	"github.com/villedemercier/recpolicy/rules"
)

// Make reads month's facts from the archive and builds its report, the
// access log's chain verified as it stands now. rulesFile is the rules in
// force now (their folder resolves past versions' relative paths).
//
// pbxCSV, when not empty, is the PBX's own Master.csv (archive.pbx_cdr_csv):
// its call records the archive lacks count too.
func Make(ctx context.Context, st *archive.Store, r *rules.Rules, rulesFile, pbxCSV, month, department string, now time.Time) (*Report, error) {
	from, to, err := MonthWindow(month, r.Location())
	if err != nil {
		return nil, err
	}
	m, err := store.NewStore(st).Month(ctx, from, to)
	if err != nil {
		return nil, err
	}
	o := Options{Month: month, Department: department, Rules: r, RulesDir: filepath.Dir(rulesFile), Loc: r.Location(), Generated: now}
	if pbxCSV != "" {
		f, err := os.Open(pbxCSV)
		if err != nil {
			return nil, fmt.Errorf("report: the PBX's call records (archive.pbx_cdr_csv): %w", err)
		}
		o.PBXLegs, err = ReadPBXCSV(f, from, to)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("report: %s: %w", pbxCSV, err)
		}
		o.PBXSource = pbxCSV
	}
	rep, err := Build(m, o)
	if err != nil {
		return nil, err
	}
	chain, err := register.NewStore(st).VerifyAccessLog(ctx)
	if err != nil {
		return nil, fmt.Errorf("report: verify the access log: %w", err)
	}
	rep.ChainRows = chain.Rows
	for _, b := range chain.Breaks {
		rep.ChainBreaks = append(rep.ChainBreaks, fmt.Sprintf("ligne %d : %s", b.ID, breakWords[b.Kind]))
	}
	return rep, nil
}

// PreviousMonth is the month before t's, as YYYY-MM in loc (the monthly
// job's report).
func PreviousMonth(t time.Time, loc *time.Location) string {
	t = t.In(loc)
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, loc).AddDate(0, -1, 0).Format("2006-01")
}

// breakWords say a chain break's kind in French.
var breakWords = map[string]string{
	register.BreakUnchained: "ligne écrite hors de la chaîne après son début",
	register.BreakMissing:   "lignes de la chaîne supprimées",
	register.BreakRelinked:  "son lien à la ligne précédente ne tient plus",
	register.BreakAltered:   "son contenu ne correspond plus à son empreinte",
}
