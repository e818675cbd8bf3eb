package engine

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/villedemercier/recpolicy/ami"
)

// ChannelRef is how a recorder's AMI actions name one recording's channel,
// and the way they are sent: by the channel's name on sessions of its run
// of Asterisk, or by its unique ID on any session.
type ChannelRef struct {
	// Channel is the value of the actions' Channel header.
	Channel string
	// Send sends an action the same way.
	Send func(ctx context.Context, action string, headers ...ami.Header) (*ami.Message, error)
}

// Action sends action with a Channel header naming the channel, then headers.
// A ChannelRef comes from SendToChannel; its zero value cannot send.
func (c ChannelRef) Action(ctx context.Context, action string, headers ...ami.Header) (*ami.Message, error) {
	return c.Send(ctx, action, append([]ami.Header{{Key: "Channel", Value: c.Channel}}, headers...)...)
}

// SendToChannel sends a recorder's first action on r's channel (a Channel
// header naming it, then headers) and returns its answer and the reference
// the channel's next actions of that start take.
//
// The channel is named by its name when r knows the run of Asterisk it was
// seen in (r.Boot) and a is a BootActioner with a session of that run
// connected; else by its unique ID, which Asterisk accepts wherever it
// takes a channel name, and the attempt counts in byUID (nil: not
// counted), whether Asterisk then carries it out or not.
// Asterisk finds a channel by name in a hash table; by unique ID its
// default channel storage (ao2_legacy, the only one Debian builds) walks
// every channel, locking each in turn while it holds the whole container,
// and under a burst of a hundred calls those lookups stalled every action
// in flight for up to 1.7 s. A name is safe only in its run: after
// Asterisk restarts, names start again from the same counters
// (PJSIP/235-00000001 again), so an order meant for a channel of the
// earlier run could reach a new one. Within one run a name is never given
// to another channel: only a masquerade (a call pickup) moves it, and the
// unique ID moves with it. The check costs no round trip: each AMI session
// knows the run it talks to (CoreStatus at login), and the action is sent
// only on a session of r's run. An action refused by name is not tried
// again by unique ID.
func SendToChannel(ctx context.Context, a Actioner, r *Recording, byUID prometheus.Counter, action string, headers ...ami.Header) (*ami.Message, ChannelRef, error) {
	if ba, ok := a.(BootActioner); ok && r.Boot != "" && r.Channel != "" {
		ref := ChannelRef{Channel: r.Channel, Send: func(ctx context.Context, action string, h ...ami.Header) (*ami.Message, error) {
			return ba.ActionOnBoot(ctx, r.Boot, action, h...)
		}}
		resp, err := ref.Action(ctx, action, headers...)
		if !errors.Is(err, ami.ErrOtherBoot) {
			return resp, ref, err
		}
		// No session of that run is connected, or none can tell its run.
	}
	if byUID != nil {
		byUID.Inc()
	}
	ref := ChannelRef{Channel: r.Uniqueid, Send: a.Action}
	resp, err := ref.Action(ctx, action, headers...)
	return resp, ref, err
}

// MarkHeaders are the headers, after its Channel, of the Setvar that marks
// a channel with the recording id running on it (MarkVar; "" clears it).
func MarkHeaders(id string) []ami.Header {
	return []ami.Header{{Key: "Variable", Value: MarkVar}, {Key: "Value", Value: id}}
}
