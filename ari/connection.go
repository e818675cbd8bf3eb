package ari

import (
	"context"

	"github.com/CyCoreSystems/ari/v6"
)

// connectLoop keeps the greeting application connected until ctx ends: its
// events go to the dispatcher, and every good health check hands it the
// application's channel list (resync after a reconnect or lost events).
func (c *Client) connectLoop(ctx context.Context, rest *restClient, d *dispatcher) {
	l := &link{
		cfg: c.cfg, log: c.log, setState: c.setState,
		what: "ari application", lost: "inbound calls take the dialplan fallback until it is back",
		connected: func() { d.post(msgConnected{}) },
		decode:    decodeEvent,
		handle:    func(ev ari.Event) { d.post(msgEvent{ev: ev}) },
		mark:      d.seq.Load,
		healthy: func(app *ari.ApplicationData, maxSeq uint64) {
			d.post(msgListing{ids: app.ChannelIDs, maxSeq: maxSeq})
		},
	}
	l.run(ctx, rest)
}
