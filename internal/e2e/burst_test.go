package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/villedemercier/recpolicy/internal/engine"
	"github.com/villedemercier/recpolicy/internal/sandbox"
)

// startBurst places one inbound call to each of exts at once (the caller
// numbers fmt.Sprintf(numFmt, i)), each talking talk after its answer. The
// returned wait waits until they have all hung up, fails the test on any
// call's error, and returns the calls in the order of exts.
func startBurst(ctx context.Context, exts []string, numFmt string, talk time.Duration) (wait func(t *testing.T) []*sandbox.Call) {
	calls := make([]*sandbox.Call, len(exts))
	errs := make([]error, len(exts))
	var wg sync.WaitGroup
	for i, ext := range exts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := h.driver.Inbound(ctx, sandbox.DIDPrefix+ext, fmt.Sprintf(numFmt, i), sandbox.Options{})
			if err != nil {
				errs[i] = err
				return
			}
			calls[i] = c
			errs[i] = h.driver.Talk(ctx, c, talk)
		}()
	}
	return func(t *testing.T) []*sandbox.Call {
		t.Helper()
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("call to %s: %v", exts[i], err)
			}
		}
		return calls
	}
}

// checkBurstFiled waits for the recordings of a burst's calls (startBurst)
// filed since mark, and checks that each extension has one, whole, both
// sides.
func checkBurstFiled(t *testing.T, mark int, exts []string, calls []*sandbox.Call) {
	t.Helper()
	waitFiled(t, mark, len(exts), 2*time.Second)
	byExt := map[string][]engine.Filed{}
	for _, f := range h.filedSince(mark) {
		byExt[f.Recording.Extension] = append(byExt[f.Recording.Extension], f)
	}
	for i, ext := range exts {
		fs := byExt[ext]
		if len(fs) != 1 {
			t.Errorf("extension %s: %d recordings filed, want 1 (%s)", ext, len(fs), describeFiled(fs))
			continue
		}
		checkRecording(t, fs[0], ext, calls[i].Bridged())
	}
}
