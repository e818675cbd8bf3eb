package ari

import (
	"testing"

	"github.com/CyCoreSystems/ari/v6"
)

func TestDecodeEvent(t *testing.T) {
	ev, err := decodeEvent([]byte(`{"type":"StasisStart","application":"recpolicy","timestamp":"2026-11-28T06:04:53.385+0000","args":["greeting"],
		"channel":{"id":"c1","name":"PJSIP/carrier-1","state":"Ring","caller":{"name":"","number":"514"},"dialplan":{"context":"recpolicy-greet","exten":"s","priority":2,"app_name":"Stasis","app_data":"recpolicy,greeting"},"creationtime":"2026-11-28T06:04:53.384+0000","language":"fr"}}`))
	if err != nil {
		t.Fatal(err)
	}
	ss, ok := ev.(*ari.StasisStart)
	if !ok || ss.Channel.ID != "c1" || ss.Args[0] != "greeting" || ss.Channel.Caller.Number != "514" || !inStasisOf(&ss.Channel, "recpolicy") {
		t.Errorf("decoded %#v", ev)
	}
	if ev, err := decodeEvent([]byte(`{"type":"ChannelVarset","variable":"X"}`)); ev != nil || err != nil {
		t.Errorf("unhandled type: %v %v", ev, err)
	}
	if ev, err := decodeEvent([]byte(`{"type":"ApplicationReplaced","application":"recpolicy"}`)); err != nil || ev == nil {
		t.Errorf("ApplicationReplaced: %v %v", ev, err)
	}
	if _, err := decodeEvent([]byte(`not json`)); err == nil {
		t.Error("no error for bad json")
	}
}
