package ami

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

// channelFields writes the channel snapshot headers Asterisk 22 puts in
// call events (ast_manager_build_channel_state_string_prefix).
func channelFields(b *bytes.Buffer, prefix, channel, state, stateDesc, num, name, uid, linked string) {
	fmt.Fprintf(b, "%sChannel: %s\r\n", prefix, channel)
	fmt.Fprintf(b, "%sChannelState: %s\r\n", prefix, state)
	fmt.Fprintf(b, "%sChannelStateDesc: %s\r\n", prefix, stateDesc)
	fmt.Fprintf(b, "%sCallerIDNum: %s\r\n", prefix, num)
	fmt.Fprintf(b, "%sCallerIDName: %s\r\n", prefix, name)
	fmt.Fprintf(b, "%sConnectedLineNum: <unknown>\r\n", prefix)
	fmt.Fprintf(b, "%sConnectedLineName: <unknown>\r\n", prefix)
	fmt.Fprintf(b, "%sLanguage: fr\r\n", prefix)
	fmt.Fprintf(b, "%sAccountCode: mairie\r\n", prefix)
	fmt.Fprintf(b, "%sContext: from-internal\r\n", prefix)
	fmt.Fprintf(b, "%sExten: 0612345678\r\n", prefix)
	fmt.Fprintf(b, "%sPriority: 3\r\n", prefix)
	fmt.Fprintf(b, "%sUniqueid: %s\r\n", prefix, uid)
	fmt.Fprintf(b, "%sLinkedid: %s\r\n", prefix, linked)
}

// benchStream returns calls*8 realistic call events.
func benchStream(calls int) (data []byte, events int) {
	var b bytes.Buffer
	for i := range calls {
		ts := fmt.Sprintf("1764306315.%06d", i)
		a := fmt.Sprintf("PJSIP/1%03d-%08x", i%1000, 2*i)
		bch := fmt.Sprintf("PJSIP/trunk-sip:+33612345678@sbc.example.net:5060-%08x", 2*i+1)
		au, bu := fmt.Sprintf("1764306315.%d", 2*i), fmt.Sprintf("1764306315.%d", 2*i+1)
		name := `Jean \"JJ\" Dupont-Mairie`
		head := func(ev string) {
			fmt.Fprintf(&b, "Event: %s\r\nPrivilege: call,all\r\nTimestamp: %s\r\nSystemName: pbx-mercier\r\n", ev, ts)
		}
		head("Newchannel")
		channelFields(&b, "", a, "0", "Down", "1001", name, au, au)
		b.WriteString("\r\n")

		head("VarSet")
		channelFields(&b, "", a, "4", "Ring", "1001", name, au, au)
		b.WriteString("Variable: RECPOLICY_MODE\r\nValue: always\r\n\r\n")

		head("Newexten")
		channelFields(&b, "", a, "4", "Ring", "1001", name, au, au)
		b.WriteString("Extension: 0612345678\r\nApplication: Dial\r\nAppData: PJSIP/trunk/sip:+33612345678@sbc.example.net:5060,60,tT\r\n\r\n")

		head("DialBegin")
		channelFields(&b, "", a, "4", "Ring", "1001", name, au, au)
		channelFields(&b, "Dest", bch, "0", "Down", "+33612345678", "", bu, au)
		b.WriteString("DialString: trunk/sip:+33612345678@sbc.example.net:5060\r\n\r\n")

		head("DialEnd")
		channelFields(&b, "", a, "4", "Ring", "1001", name, au, au)
		b.WriteString("DialStatus: ANSWER\r\n\r\n")

		head("BridgeEnter")
		fmt.Fprintf(&b, "BridgeUniqueid: 6f1c2a5e-3b9d-4c1e-8f2a-%012d\r\nBridgeType: basic\r\nBridgeTechnology: simple_bridge\r\nBridgeCreator: <unknown>\r\nBridgeName: <unknown>\r\nBridgeNumChannels: 1\r\nBridgeVideoSourceMode: none\r\n", i)
		channelFields(&b, "", a, "6", "Up", "1001", name, au, au)
		b.WriteString("\r\n")

		head("Hangup")
		channelFields(&b, "", bch, "6", "Up", "+33612345678", "", bu, au)
		b.WriteString("Cause: 16\r\nCause-txt: Normal Clearing\r\n\r\n")

		head("Hangup")
		channelFields(&b, "", a, "6", "Up", "1001", name, au, au)
		b.WriteString("Cause: 16\r\nCause-txt: Normal Clearing\r\n\r\n")
	}
	return b.Bytes(), calls * 8
}

// cycleReader serves data over and over.
type cycleReader struct {
	data []byte
	off  int
}

func (r *cycleReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.data[r.off:])
		n += c
		r.off = (r.off + c) % len(r.data)
	}
	return n, nil
}

var benchSink *Message

// BenchmarkParseEvents parses a stream of typical Asterisk 22 call events;
// one op is one event.
func BenchmarkParseEvents(b *testing.B) {
	data, events := benchStream(500)
	p := NewParser(&cycleReader{data: data})
	b.SetBytes(int64(len(data) / events))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		m, err := p.Next()
		if err != nil {
			b.Fatal(err)
		}
		benchSink = m
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func TestBenchStream(t *testing.T) {
	data, events := benchStream(3)
	p := NewParser(bytes.NewReader(data))
	n := 0
	for {
		m, err := p.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if m.Len() < 15 || m.Len() > 40 {
			t.Errorf("%s has %d headers", m.Event(), m.Len())
		}
		n++
	}
	if n != events {
		t.Fatalf("parsed %d events, want %d", n, events)
	}
}

var benchString string

// BenchmarkGet looks headers up in a parsed DialBegin (38 headers).
func BenchmarkGet(b *testing.B) {
	data, _ := benchStream(1)
	p := NewParser(bytes.NewReader(data))
	var m *Message
	for {
		var err error
		if m, err = p.Next(); err != nil {
			b.Fatal(err)
		}
		if m.Event() == "DialBegin" {
			break
		}
	}
	for _, key := range []string{"Event", "Uniqueid", "destuniqueid", "DialString", "Missing"} {
		b.Run(key, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				benchString = m.Get(key)
			}
		})
	}
}
