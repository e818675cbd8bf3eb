package ari

import (
	"encoding/json"
	"fmt"

	"github.com/CyCoreSystems/ari/v6"
)

// handledEvent reports whether the greeting needs events of type t.
func handledEvent(t string) bool {
	switch t {
	case "StasisStart", "StasisEnd", "ChannelHangupRequest", "ChannelDestroyed",
		"PlaybackFinished", "ApplicationReplaced":
		return true
	}
	return false
}

// decodeEvent decodes the events the greeting handles; others give nil.
func decodeEvent(data []byte) (ari.Event, error) {
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("decode event type: %w", err)
	}
	if !handledEvent(head.Type) {
		return nil, nil
	}
	ev, err := ari.DecodeEvent(data)
	if err != nil {
		return nil, fmt.Errorf("decode %s event: %w", head.Type, err)
	}
	return ev, nil
}
