package access

import (
	"context"
	"fmt"

	"github.com/villedemercier/recpolicy/archive"
)

// MayTrain tells whether v prepares training copies: the administrators
// and the trainers.
func (v Viewer) MayTrain() bool { return v.Admin() || v.Role == RoleTrainer }

// TrainingSource hands over a recording to prepare a de-identified
// training copy of it: only to an administrator or a trainer, never one of
// a call that involved an extension bound by professional confidentiality
// (on any of its legs), and for the training purpose, logged before the
// recording is returned. Every refusal is logged with its reason.
func (g *Guard) TrainingSource(ctx context.Context, action, ref string, detail map[string]any) (archive.StoredRecording, error) {
	refuse := func(reason string) (archive.StoredRecording, error) {
		return archive.StoredRecording{}, g.refuse(ctx, action, ref, PurposeTraining, nil, g.v.Denied(reason))
	}
	if !g.v.MayTrain() {
		if err := g.Authorize(ctx, action, ref, false); err != nil {
			return archive.StoredRecording{}, err
		}
		return refuse("training copies are prepared by the administrators and the trainers (access.trainers)")
	}
	rec, err := g.store.FindRecording(ctx, ref)
	if err != nil {
		return archive.StoredRecording{}, g.refuse(ctx, action, ref, PurposeTraining, nil, err)
	}
	hidden, err := g.store.RecordingHidden(ctx, rec.ID, g.v.Hidden)
	if err != nil {
		return archive.StoredRecording{}, g.refuse(ctx, action, ref, PurposeTraining, nil, err)
	}
	if hidden {
		return refuse(fmt.Sprintf("recording %d is of a call of staff bound by professional confidentiality (or cannot be tied to its call yet): it is never used for training", rec.ID))
	}
	rec, _, err = g.Listen(ctx, action, ref, PurposeTraining, nil, detail)
	return rec, err
}
