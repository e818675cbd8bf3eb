package daemon

import (
	"regexp"
	"testing"
)

func TestEventFilter(t *testing.T) {
	re, err := regexp.CompilePOSIX(eventFilter())
	if err != nil {
		t.Fatalf("filter %q is not a POSIX expression: %v", eventFilter(), err)
	}
	for _, tc := range []struct {
		event string
		want  bool
	}{
		{"Event: Newchannel\r\nPrivilege: call,all\r\nChannel: PJSIP/235-00000001\r\n", true},
		{"Event: DialBegin\r\nPrivilege: call,all\r\n", true},
		{"Event: BridgeEnter\r\n", true},
		{"Event: BridgeLeave\r\n", true},
		{"Event: BridgeDestroy\r\n", true},
		{"Event: Hangup\r\nCause: 16\r\n", true},
		{"Event: Cdr\r\nPrivilege: cdr,all\r\n", true},
		{"Event: FullyBooted\r\n", true},
		{"Event: Rename\r\n", true},
		{"Event: NewCallerid\r\n", true},
		{"Event: VarSet\r\nChannel: PJSIP/carrier-00000002\r\nVariable: __RECPOLICY_GREETED\r\nValue: dialplan\r\n", true},
		{"Event: VarSet\r\nVariable: RECPOLICY_GREETED\r\nValue: ari\r\n", true},
		{"Event: HangupRequest\r\n", false},
		{"Event: Newexten\r\nApplication: Dial\r\n", false},
		{"Event: VarSet\r\nVariable: DIALSTATUS\r\nValue: ANSWER\r\n", false},
		{"Event: VarSet\r\nVariable: RECPOLICY_GREETED_NOT\r\n", false},
		{"Event: Newstate\r\nChannelState: 6\r\n", true},
		{"Event: NewConnectedLine\r\n", false},
		{"Event: CdrNot\r\n", false},
	} {
		if got := re.MatchString(tc.event); got != tc.want {
			t.Errorf("filter on %q = %v, want %v", tc.event, got, tc.want)
		}
	}
}
