package access

import (
	"context"
	"fmt"

	"github.com/villedemercier/recpolicy/archive"
	"github.com/villedemercier/recpolicy/archive/register"
)

// Purpose is an end for which the policy lets someone hear a recording
// ("La consultation des fichiers d'appels ne doit pas servir à des fins de
// curiosité…"): customer service (human-resources management, statistics)
// or the handling of a complaint or litigation. Curiosity is not one.
type Purpose struct {
	Code  string `json:"code"`
	Label string `json:"label"`
	// Request: only for a granted written request of the register.
	Request bool `json:"request"`
	// AdminOnly: only the IT department (administrators) may use it.
	AdminOnly bool `json:"admin_only"`
	// Training: preparing a de-identified training copy, for the
	// administrators and the trainers (and the only purpose of a trainer).
	Training bool `json:"training"`
}

// purposes is the policy's list, in the console's order.
var purposes = []Purpose{
	{Code: "service", Label: "Service à la clientèle (qualité du service)"},
	{Code: "rh", Label: "Service à la clientèle : gestion des ressources humaines"},
	{Code: "statistiques", Label: "Service à la clientèle : tenue de statistiques"},
	{Code: "plainte", Label: "Gestion d'une plainte ou d'un litige (demande écrite accordée)", Request: true, AdminOnly: true},
	{Code: PurposeTraining, Label: "Formation (préparation d'une copie dépersonnalisée)", Training: true},
}

// PurposeTraining is the code of the training purpose.
const PurposeTraining = "formation"

// Purposes returns the purposes the policy allows.
func Purposes() []Purpose { return append([]Purpose(nil), purposes...) }

// PurposesFor returns the purposes v may state.
func PurposesFor(v Viewer) []Purpose {
	var out []Purpose
	for _, p := range purposes {
		if v.MayState(p) {
			out = append(out, p)
		}
	}
	return out
}

// MayState tells whether v may hear a recording for p: an administrator
// for any; a trainer for training only; a director for those neither the
// IT department's nor training.
func (v Viewer) MayState(p Purpose) bool {
	switch {
	case v.Admin():
		return true
	case v.Role == RoleTrainer:
		return p.Training
	case v.Role == RoleDirector:
		return !p.AdminOnly && !p.Training
	}
	return false
}

// LookupPurpose returns the purpose with code.
func LookupPurpose(code string) (Purpose, bool) {
	for _, p := range purposes {
		if p.Code == code {
			return p, true
		}
	}
	return Purpose{}, false
}

// MayDownload tells whether v may take a copy of a recording away (a right
// apart from hearing it): the administrators.
func (v Viewer) MayDownload() bool { return v.Admin() }

// SeesHoldDetails tells whether v sees a hold's case reference, reason and
// author (administrators only; others see that a recording is held, and
// since when).
func (v Viewer) SeesHoldDetails() bool { return v.Admin() }

// Listen hands over a recording to be heard for the purpose with code
// (and the granted request requestID when the purpose needs one): the
// purpose must be one of the policy's and open to the viewer; then it is
// Recording's decision. Every refusal is logged.
func (g *Guard) Listen(ctx context.Context, action, ref, code string, requestID *int64, detail map[string]any) (archive.StoredRecording, Purpose, error) {
	p, ok := LookupPurpose(code)
	refuse := func(reason string) (archive.StoredRecording, Purpose, error) {
		if err := g.Authorize(ctx, action, ref, false); err != nil {
			return archive.StoredRecording{}, p, err
		}
		return archive.StoredRecording{}, p, g.refuse(ctx, action, ref, code, requestID, g.v.Denied(reason))
	}
	switch {
	case !ok:
		return refuse(fmt.Sprintf("purpose %q is not one the policy allows (customer service, human-resources management, statistics, a complaint or litigation): never curiosity", code))
	case !g.v.MayState(p) && p.AdminOnly:
		return refuse(fmt.Sprintf("the purpose %q is the IT department's", p.Label))
	case !g.v.MayState(p) && p.Training:
		return refuse(fmt.Sprintf("the purpose %q is for the administrators and the trainers", p.Label))
	case !g.v.MayState(p):
		return refuse(fmt.Sprintf("the purpose %q is not yours: a trainer hears recordings for training only", p.Label))
	case p.Request && requestID == nil:
		return refuse(fmt.Sprintf("the purpose %q needs the number of the granted written request", p.Label))
	case !p.Request && requestID != nil:
		requestID = nil
	}
	d := map[string]any{"purpose_code": p.Code}
	for k, v := range detail {
		d[k] = v
	}
	rec, err := g.Recording(ctx, action, ref, p.Label, requestID, d)
	return rec, p, err
}

// RegisterSide is the side v speaks for on a written request: the IT
// department for an administrator, the Greffe for a reviewer; ok is false
// for anyone else.
func (v Viewer) RegisterSide() (side string, ok bool) {
	switch {
	case v.Admin():
		return register.SideIT, true
	case v.Reviewer:
		return register.SideGreffe, true
	}
	return "", false
}
