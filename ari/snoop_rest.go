package ari

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/CyCoreSystems/ari/v6"
)

// snoop creates a snoop channel with the given ID that spies on spy
// ("in": what channelID receives from its endpoint, the phone's voice;
// "out": what Asterisk sends it, what the phone hears; "both") and enters
// the Stasis application app. channelID may be the channel's unique ID or
// its name. The reply is the snoop channel, named
// Snoop/<the spied channel's unique ID>-<counter>.
func (r *restClient) snoop(ctx context.Context, channelID, snoopID, spy, app string) (*ari.ChannelData, error) {
	q := url.Values{"spy": {spy}, "whisper": {"none"}, "app": {app}, "snoopId": {snoopID}}
	var ch ari.ChannelData
	if err := r.do(ctx, http.MethodPost, channelPath(channelID, "/snoop"), q, &ch); err != nil {
		return nil, fmt.Errorf("snoop channel: %w", err)
	}
	return &ch, nil
}

// record starts recording the channel (which must be in Stasis) into the
// spool's recording/<name>.wav; an existing file is an error, never
// overwritten. It goes on the prompt lane: the recording waits on it.
func (r *restClient) record(ctx context.Context, channelID, name string) error {
	q := url.Values{
		"name": {name}, "format": {"wav"}, "ifExists": {"fail"}, "beep": {"false"},
		"maxDurationSeconds": {"0"}, "maxSilenceSeconds": {"0"}, "terminateOn": {"none"},
	}
	if err := r.doPrompt(ctx, http.MethodPost, channelPath(channelID, "/record"), q, nil); err != nil {
		return fmt.Errorf("record channel: %w", err)
	}
	return nil
}

// stopRecording stops a live recording and keeps its file.
func (r *restClient) stopRecording(ctx context.Context, name string) error {
	if err := r.do(ctx, http.MethodPost, "/recordings/live/"+url.PathEscape(name)+"/stop", nil, nil); err != nil {
		return fmt.Errorf("stop recording: %w", err)
	}
	return nil
}

// liveRecording reads a live recording; ErrNotFound once it has ended.
func (r *restClient) liveRecording(ctx context.Context, name string) (*ari.LiveRecordingData, error) {
	return r.readLive(ctx, r.do, name)
}

// liveRecordingPrompt reads a live recording on the prompt lane: for the
// read that settles a record request cut on the way, which the
// recording's start waits on (see channelPrompt).
func (r *restClient) liveRecordingPrompt(ctx context.Context, name string) (*ari.LiveRecordingData, error) {
	return r.readLive(ctx, r.doPrompt, name)
}

// readLive reads a live recording through do (restClient.do or doPrompt).
func (r *restClient) readLive(ctx context.Context, do func(context.Context, string, string, url.Values, any) error, name string) (*ari.LiveRecordingData, error) {
	var rec ari.LiveRecordingData
	if err := do(ctx, http.MethodGet, "/recordings/live/"+url.PathEscape(name), nil, &rec); err != nil {
		return nil, fmt.Errorf("get live recording: %w", err)
	}
	return &rec, nil
}

// subscription adds (POST) or removes (DELETE) app's subscription to an
// event source ("channel:<id or name>", "endpoint:<tech>/<resource>");
// what names the request in its error ("subscribe to channel").
func (r *restClient) subscription(ctx context.Context, method, app, source, what string) error {
	q := url.Values{"eventSource": {source}}
	if err := r.do(ctx, method, "/applications/"+url.PathEscape(app)+"/subscription", q, nil); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// subscribe makes app receive the channel's events (state changes,
// hangup) although the channel is not in Stasis.
func (r *restClient) subscribe(ctx context.Context, app, channelID string) error {
	return r.subscription(ctx, http.MethodPost, app, "channel:"+channelID, "subscribe to channel")
}

// subscribeEndpoint makes app receive the events of an endpoint
// ("PJSIP/235") and of all its channels, from their creation on.
func (r *restClient) subscribeEndpoint(ctx context.Context, app, endpoint string) error {
	return r.subscription(ctx, http.MethodPost, app, "endpoint:"+endpoint, "subscribe to endpoint")
}

// unsubscribeEndpoint undoes subscribeEndpoint.
func (r *restClient) unsubscribeEndpoint(ctx context.Context, app, endpoint string) error {
	return r.subscription(ctx, http.MethodDelete, app, "endpoint:"+endpoint, "unsubscribe from endpoint")
}

// channelIDs lists the unique IDs of the channels Asterisk has now.
func (r *restClient) channelIDs(ctx context.Context) ([]string, error) {
	var chans []struct {
		ID string `json:"id"`
	}
	if err := r.do(ctx, http.MethodGet, "/channels", nil, &chans); err != nil {
		return nil, fmt.Errorf("list channels: %w", err)
	}
	ids := make([]string, len(chans))
	for i, c := range chans {
		ids[i] = c.ID
	}
	return ids, nil
}

// unsubscribe undoes subscribe.
func (r *restClient) unsubscribe(ctx context.Context, app, channelID string) error {
	return r.subscription(ctx, http.MethodDelete, app, "channel:"+channelID, "unsubscribe from channel")
}
