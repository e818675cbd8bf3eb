package daemon

import (
	"regexp"
	"strings"

	"github.com/villedemercier/recpolicy/internal/engine"
)

// clientEvents are the events the AMI client itself reads (restart
// detection and the shutdown notice).
var clientEvents = []string{"FullyBooted", "Shutdown"}

// eventFilter is the expression the event session asks Asterisk to filter
// its events with: the events the tracker, the archiver (Cdr) and the AMI
// client read, and the VarSet of the dialplan greeting's marker. Under a
// burst, Asterisk then writes the daemon a few events per call instead of
// every Newexten and VarSet of the greeting and Dial, and the events the
// recorder acts on arrive sooner.
func eventFilter() string {
	names := append(append(append([]string(nil), engine.TrackedEvents...), "Cdr"), clientEvents...)
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = regexp.QuoteMeta(n)
	}
	return `Event: (` + strings.Join(quoted, "|") + `)[[:space:]]|Variable: _*` + greetedVar + `[[:space:]]`
}
