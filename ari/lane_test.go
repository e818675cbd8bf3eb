package ari

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestPromptLaneServesWhileTheMainLaneIsHeld checks that the requests a
// recording's start waits on (the channel read, the record request) get
// their answer while every connection the main lane may open is held by
// requests Asterisk has not answered (snoop channels it is slow to
// create), and that without a prompt lane (the greeting client) they
// wait behind them.
func TestPromptLaneServesWhileTheMainLaneIsHeld(t *testing.T) {
	tests := []struct {
		name     string
		prompt   bool
		wantWait bool
	}{
		{name: "snoop client, prompt lane", prompt: true},
		{name: "no prompt lane", wantWait: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			release := make(chan struct{})
			var held atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case strings.HasSuffix(r.URL.Path, "/snoop"):
					held.Add(1)
					<-release
					w.WriteHeader(http.StatusServiceUnavailable)
				case strings.HasSuffix(r.URL.Path, "/record"):
					w.WriteHeader(http.StatusCreated)
				case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/ari/channels/"):
					w.Header().Set("Content-Type", "application/json")
					_, _ = w.Write([]byte(`{"id":"c1","name":"PJSIP/230-00000001","state":"Ring"}`))
				default:
					http.NotFound(w, r)
				}
			}))
			defer srv.Close()
			rest, err := newRESTClient(Config{URL: srv.URL + "/ari", Username: "u", Password: "p", Application: "a", DialTimeout: time.Second, RequestTimeout: 30 * time.Second}.withDefaults(), tt.prompt)
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			defer func() {
				// Release the held requests, wait for them and for the
				// dials still waiting, and close every connection.
				close(release)
				wg.Wait()
				waitFor(t, 5*time.Second, "every accept slot given back", func() bool {
					rest.close()
					return slotsFree(rest)
				})
			}()
			for i := range maxConnsPerClient {
				wg.Go(func() { _, _ = rest.snoop(context.Background(), "c1", "snoop-"+strconv.Itoa(i), "in", "a") })
			}
			// The main lane's accept gate lets maxPendingAccepts connections
			// wait for a first reply: that many snoop requests reach the
			// server, and every other one waits for a slot.
			waitFor(t, 5*time.Second, "the main lane held", func() bool { return held.Load() == maxPendingAccepts })

			// Both at once, each with its own deadline: each must get its
			// own answer, or wait its own full deadline.
			var chErr, recErr error
			var both sync.WaitGroup
			both.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				_, chErr = rest.channelPrompt(ctx, "c1")
			})
			both.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				recErr = rest.record(ctx, "snoop-x", "r1")
			})
			both.Wait()
			if tt.wantWait {
				if !errors.Is(chErr, context.DeadlineExceeded) || !errors.Is(recErr, context.DeadlineExceeded) {
					t.Errorf("channel read %v, record %v: want both to wait behind the held requests", chErr, recErr)
				}
				return
			}
			if chErr != nil || recErr != nil {
				t.Errorf("channel read %v, record %v: want both answered on the prompt lane", chErr, recErr)
			}
			if got := held.Load(); got != maxPendingAccepts {
				t.Errorf("%d snoop requests reached the server, want %d (the rest waiting for the main lane's slots)", got, maxPendingAccepts)
			}
		})
	}
}
