package main

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/websocket"

	"github.com/villedemercier/recpolicy/internal/backoff"
	"github.com/villedemercier/recpolicy/internal/engine"
	"github.com/villedemercier/recpolicy/internal/sandbox"
)

// ariWatch follows every ARI event of the PBX (subscribeAll) for the
// snoop backend's RecordingStarted, by the PBX's own clock: when a
// recording of an extension's channel began to take frames. It
// reconnects after a PBX restart; what it misses meanwhile is simply not
// timed (the report says how many calls were).
type ariWatch struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// started is called with the spied channel's uniqueid, the part's
	// suffix ("" for a mixed recording) and the recording's start (unix
	// seconds, the PBX's clock).
	started func(uniqueid, part string, at float64)
	// connects counts the events WebSockets opened.
	connects atomic.Int64
}

// ariEvent is the part of an ARI event the watch reads.
type ariEvent struct {
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"`
	Recording struct {
		Name string `json:"name"`
	} `json:"recording"`
}

// ariTime is ARI's timestamp layout (2026-12-03T02:20:00.123+0000).
const ariTime = "2006-01-02T15:04:05.000-0700"

func watchARI(started func(uniqueid, part string, at float64)) *ariWatch {
	ctx, cancel := context.WithCancel(context.Background())
	w := &ariWatch{cancel: cancel, started: started}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		bo := backoff.New(100*time.Millisecond, 2*time.Second)
		for ctx.Err() == nil {
			if w.session(ctx) {
				bo.Reset()
			}
			select {
			case <-ctx.Done():
			case <-time.After(bo.Next()):
			}
		}
	}()
	return w
}

// session reads one events WebSocket until it closes; it reports whether
// it connected.
func (w *ariWatch) session(ctx context.Context) bool {
	ws, err := sandbox.DialARIEvents(ctx, sandbox.PBXObserverARI, true)
	if err != nil {
		return false
	}
	w.connects.Add(1)
	stop := context.AfterFunc(ctx, func() { _ = ws.Close() })
	defer stop()
	defer ws.Close()
	for {
		var raw []byte
		if err := websocket.Message.Receive(ws, &raw); err != nil {
			return true
		}
		var ev ariEvent
		if json.Unmarshal(raw, &ev) != nil || ev.Type != "RecordingStarted" {
			continue
		}
		at, err := time.Parse(ariTime, ev.Timestamp)
		if err != nil {
			continue
		}
		name, part := ev.Recording.Name, ""
		for _, s := range engine.PartSuffixes {
			if n, ok := strings.CutSuffix(name, s); ok {
				name, part = n, s
			}
		}
		info, err := engine.ParseSpoolID(name)
		if err != nil {
			continue // not the daemon's
		}
		w.started(info.Uniqueid, part, float64(at.UnixNano())/1e9)
	}
}

// waitConnected waits until more than n WebSockets have been opened (the
// watch is back after a PBX restart).
func (w *ariWatch) waitConnected(ctx context.Context, n int64, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for w.connects.Load() <= n {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

func (w *ariWatch) close() {
	w.cancel()
	w.wg.Wait()
}
