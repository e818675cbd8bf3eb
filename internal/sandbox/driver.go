package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/villedemercier/recpolicy/ami"
)

// Numbering of the sandbox PBX (docker/asterisk/pbx/extensions.conf).
const (
	MainNumber = "4506982000" // reception ring group
	DIDPrefix  = "4506983"    // 4506983XXX reaches extension XXX
	RingGroup  = "200"
	// LocalGroupNumber reaches ring group 201, whose members are dialled
	// through Local channels (as FreePBX builds ring groups).
	LocalGroupNumber = "4506982001"
	// QueueNumber reaches call queue 202 (members 235, and 250 through a
	// Local channel; every member rings at once).
	QueueNumber = "4506982002"
	// ConferenceNumber reaches conference room 203 (ConfBridge) from the
	// carrier.
	ConferenceNumber = "4506982003"
	// Conference is the conference room's internal number.
	Conference = "203"
	// ParkingLot is where a blind transfer parks a call; the lot announces
	// the space (701-720), which retrieves it when dialled.
	ParkingLot = "700"
)

// ReceptionGroup is who the ring group rings.
var ReceptionGroup = []string{"230", "800", "245"}

// LocalGroup is who ring group 201 rings, each through a Local channel.
var LocalGroup = []string{"240", "241"}

// Side is who plays in the simulator: a phone or the carrier.
type Side string

// The two sides of the simulator.
const (
	SidePhone   Side = "phone"
	SideCarrier Side = "carrier"
)

// ErrTimeout marks a call that did not reach the awaited state in time.
var ErrTimeout = errors.New("timed out")

// Call is one call placed by the driver.
type Call struct {
	ID string // uniqueid of the simulator channel that placed the call
	// Answerers are the simulator numbers that may answer it.
	Answerers []string
	Side      Side // side that answers
	// callerNum is the number the call presents ("" when withheld): an
	// answer naming it is this call's, whatever the order the calls to one
	// number reach their phone (see Driver.event).
	callerNum string

	mu          sync.Mutex
	answered    time.Time
	answerExten string
	answerChan  string
	answerUID   string
	originUp    time.Time
	hungUp      time.Time
	answerGone  time.Time
	answerGoneC chan struct{}
	cause       string
	answeredCh  chan struct{}
	hungUpCh    chan struct{}
	failedCh    chan struct{}
	failReason  string
}

// Answered is when the called side answered (the PBX bridges then), or zero.
func (c *Call) Answered() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.answered }

// AnsweredBy is the simulator number that answered.
func (c *Call) AnsweredBy() string { c.mu.Lock(); defer c.mu.Unlock(); return c.answerExten }

// AnswerChannel is the simulator channel that answered (name, uniqueid).
func (c *Call) AnswerChannel() (string, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.answerChan, c.answerUID
}

// HungUp is when the placing channel hung up, or zero.
func (c *Call) HungUp() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.hungUp }

// Bridged is how long the call was bridged (answer to hangup).
func (c *Call) Bridged() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.answered.IsZero() || c.hungUp.IsZero() {
		return 0
	}
	return c.hungUp.Sub(c.answered)
}

// Driver places calls through the simulator's AMI.
type Driver struct {
	*amiConn
	client *ami.Client
	seq    atomic.Int64
	hold   *holdKey

	mu       sync.Mutex
	calls    map[string]*Call     // by origin uniqueid
	byAnswer map[string]*Call     // by answering channel uniqueid
	pending  []*Call              // not yet answered, oldest first
	upAt     map[string]time.Time // when each live simulator channel went Up
}

// SimAMI is the simulator's AMI (docker/asterisk/sim/manager.conf). The
// simulator writes the driver only the events it reads (Driver.event, and
// the AMI client's restart and shutdown notices): under a wave of calls,
// formatting and parsing every Newexten, VarSet and RTCP report would take
// the CPU the PBX needs.
var SimAMI = ami.Config{Addr: "127.0.0.1:5039", Username: "driver", Secret: "sandbox-sim-secret",
	Filter: `Event: (Newstate|UserEvent|Hangup|OriginateResponse|FullyBooted|Shutdown)[[:space:]]`}

// NewDriver connects to the simulator's AMI and waits for the connection.
func NewDriver(ctx context.Context, cfg ami.Config, log zerolog.Logger) (*Driver, error) {
	d := &Driver{hold: newHoldKey(), calls: make(map[string]*Call), byAnswer: make(map[string]*Call), upAt: make(map[string]time.Time)}
	c, err := connect(ctx, cfg, log, d.event)
	if err != nil {
		return nil, fmt.Errorf("connect to simulator AMI %s: %w (is the sandbox up? docker/sandbox up)", cfg.Addr, err)
	}
	d.amiConn = c
	d.client = c.client
	return d, nil
}

// amiConn is an AMI client whose events go to one handler, with its
// goroutines owned.
type amiConn struct {
	client *ami.Client
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// connect starts an AMI client, hands each event to handle, and waits until
// it is logged in.
func connect(ctx context.Context, cfg ami.Config, log zerolog.Logger, handle func(*ami.Message)) (*amiConn, error) {
	cctx, cancel := context.WithCancel(context.Background())
	c := &amiConn{client: ami.NewClient(cfg, log), cancel: cancel}
	connected := make(chan struct{})
	var once sync.Once
	c.wg.Add(2)
	go func() { defer c.wg.Done(); _ = c.client.Run(cctx) }()
	go func() {
		defer c.wg.Done()
		for n := range c.client.Notifications() {
			switch n.Kind {
			case ami.KindConnected:
				once.Do(func() { close(connected) })
			case ami.KindEvent:
				handle(n.Msg)
			}
		}
	}()
	select {
	case <-connected:
		return c, nil
	case <-ctx.Done():
		c.close()
		return nil, ctx.Err()
	}
}

func (c *amiConn) close() {
	c.cancel()
	c.wg.Wait()
}

// Close disconnects.
func (d *Driver) Close() {
	d.hold.close()
	d.amiConn.close()
}

// Action sends a raw action to the simulator.
func (d *Driver) Action(ctx context.Context, action string, h ...ami.Header) (*ami.Message, error) {
	return d.client.Action(ctx, action, h...)
}

func eventTime(m *ami.Message) time.Time {
	if ts := m.Get("Timestamp"); ts != "" {
		if f, err := strconv.ParseFloat(ts, 64); err == nil {
			sec := int64(f)
			return time.Unix(sec, int64((f-float64(sec))*1e9))
		}
	}
	return time.Now()
}

// answeredCall returns the index in d.pending of the call that a phone
// (or the carrier) exten on side answered, shown callerNum: the oldest
// pending call that exten may answer and that presents callerNum, else the
// oldest that exten may answer (a number the PBX rewrote, a withheld one);
// -1 when none. Calls to one number can reach its phone out of the order
// they were placed in (a caller who heard the greeting twice), so the
// number they present tells them apart. The caller holds d.mu.
func (d *Driver) answeredCall(side Side, exten, callerNum string) int {
	first := -1
	for i, c := range d.pending {
		if c.Side != side || !contains(c.Answerers, exten) {
			continue
		}
		if callerNum != "" && c.callerNum == callerNum {
			return i
		}
		if first < 0 {
			first = i
		}
	}
	return first
}

func (d *Driver) event(m *ami.Message) {
	switch m.Event() {
	case "Newstate":
		// The answer time is when the answering channel went Up (the
		// dialplan's Answer() then waits up to 500 ms for media before the
		// SimAnswered user event).
		if m.Get("ChannelStateDesc") == "Up" {
			d.mu.Lock()
			d.upAt[strings.Clone(m.Get("Uniqueid"))] = eventTime(m)
			d.mu.Unlock()
		}
	case "UserEvent":
		if m.Get("UserEvent") != "SimAnswered" {
			return
		}
		side, exten := Side(m.Get("Side")), m.Get("SimExten")
		d.mu.Lock()
		if i := d.answeredCall(side, exten, m.Get("CallerNum")); i >= 0 {
			c := d.pending[i]
			d.pending = append(d.pending[:i], d.pending[i+1:]...)
			c.mu.Lock()
			c.answered = eventTime(m)
			if up, ok := d.upAt[m.Get("Uniqueid")]; ok {
				c.answered = up
			}
			c.answerExten = exten
			c.answerChan = strings.Clone(m.Get("Channel"))
			c.answerUID = strings.Clone(m.Get("Uniqueid"))
			d.byAnswer[c.answerUID] = c
			c.mu.Unlock()
			close(c.answeredCh)
		}
		d.mu.Unlock()
	case "Hangup":
		d.mu.Lock()
		delete(d.upAt, m.Get("Uniqueid"))
		if a := d.byAnswer[m.Get("Uniqueid")]; a != nil {
			delete(d.byAnswer, m.Get("Uniqueid"))
			a.mu.Lock()
			a.answerGone = eventTime(m)
			a.mu.Unlock()
			close(a.answerGoneC)
		}
		c := d.calls[m.Get("Uniqueid")]
		if c != nil {
			delete(d.calls, m.Get("Uniqueid"))
			for i, p := range d.pending {
				if p == c {
					d.pending = append(d.pending[:i], d.pending[i+1:]...)
					break
				}
			}
		}
		d.mu.Unlock()
		if c != nil {
			c.mu.Lock()
			c.hungUp = eventTime(m)
			c.cause = m.Get("Cause-txt")
			c.mu.Unlock()
			close(c.hungUpCh)
		}
	case "OriginateResponse":
		if m.Get("Response") == "Failure" {
			d.mu.Lock()
			c := d.calls[m.Get("Uniqueid")]
			d.mu.Unlock()
			if c != nil {
				c.mu.Lock()
				c.failReason = m.Get("Reason")
				c.mu.Unlock()
				select {
				case <-c.failedCh:
				default:
					close(c.failedCh)
				}
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Options shape a call.
type Options struct {
	// CallerName shown on the call (default "Simulateur").
	CallerName string
	// Withheld hides the caller's number (presentation prohibited).
	Withheld bool
	// Answerers overrides who may answer (default: from the dialled number).
	Answerers []string
	// AnswerSide overrides which side answers (default: the phones for a
	// call to the city, the carrier for an outbound call), e.g. the carrier
	// for a call to an extension forwarded to an external number.
	AnswerSide Side
	// Context is the simulator context the placing channel runs once the
	// PBX answers (default sim-originated: it plays its side's tone).
	Context string
}

func (d *Driver) originate(ctx context.Context, endpoint, number, callerNum string, side Side, answerSide Side, answerers []string, o Options) (*Call, error) {
	id := fmt.Sprintf("sim-%d-%d", time.Now().UnixNano()%1e9, d.seq.Add(1))
	if o.AnswerSide != "" {
		answerSide = o.AnswerSide
	}
	c := newCall(id, answerSide, answerers)
	if !o.Withheld {
		c.callerNum = callerNum
	}
	d.mu.Lock()
	d.calls[id] = c
	d.pending = append(d.pending, c)
	d.mu.Unlock()
	name := o.CallerName
	if name == "" {
		name = "Simulateur"
	}
	cid := fmt.Sprintf("\"%s\" <%s>", name, callerNum)
	ctxName := o.Context
	if ctxName == "" {
		ctxName = "sim-originated"
	}
	h := []ami.Header{
		{Key: "Channel", Value: "PJSIP/" + number + "@" + endpoint},
		{Key: "Context", Value: ctxName},
		{Key: "Exten", Value: string(side)},
		{Key: "Priority", Value: "1"},
		{Key: "CallerID", Value: cid},
		{Key: "ChannelId", Value: id},
		{Key: "Timeout", Value: "60000"},
		{Key: "Async", Value: "true"},
	}
	if o.Withheld {
		h[4].Value = "\"Anonymous\" <anonymous>"
		h = append(h, ami.Header{Key: "Variable", Value: "CALLERID(pres)=prohib"})
	}
	if _, err := d.client.Action(ctx, "Originate", h...); err != nil {
		d.forget(c)
		return nil, fmt.Errorf("originate %s@%s: %w", number, endpoint, err)
	}
	return c, nil
}

func newCall(id string, side Side, answerers []string) *Call {
	return &Call{ID: id, Answerers: answerers, Side: side, answeredCh: make(chan struct{}),
		hungUpCh: make(chan struct{}), failedCh: make(chan struct{}), answerGoneC: make(chan struct{})}
}

// Expect registers a leg the driver did not place — a transfer's target, a
// pickup — answered by one of answerers on side. Wait for it with
// WaitAnswered and WaitAnswerGone.
func (d *Driver) Expect(side Side, answerers ...string) *Call {
	c := newCall(fmt.Sprintf("expect-%d", d.seq.Add(1)), side, answerers)
	d.mu.Lock()
	d.pending = append(d.pending, c)
	d.mu.Unlock()
	return c
}

// WaitAnswerGone waits until the channel that answered c hung up.
func (d *Driver) WaitAnswerGone(ctx context.Context, c *Call, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-c.answerGoneC:
		return nil
	case <-t.C:
		return fmt.Errorf("wait hangup of the answering side of %s: %w after %s", c.ID, ErrTimeout, timeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// AnswerGone is when the answering channel hung up, or zero.
func (c *Call) AnswerGone() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.answerGone }

// Forget drops a call the driver still waits for (an expected leg that
// never came).
func (d *Driver) Forget(c *Call) { d.forget(c) }

func (d *Driver) forget(c *Call) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.calls, c.ID)
	for i, p := range d.pending {
		if p == c {
			d.pending = append(d.pending[:i], d.pending[i+1:]...)
			break
		}
	}
}

// Inbound places a call from the carrier to a city number (a DID such as
// 4506983235, or MainNumber). callerNum is the external caller's number.
func (d *Driver) Inbound(ctx context.Context, did, callerNum string, o Options) (*Call, error) {
	return d.originate(ctx, "pbx-carrier", did, callerNum, SideCarrier, SidePhone, inboundAnswerers(did, o), o)
}

// inboundAnswerers is who may answer a call to a city number.
func inboundAnswerers(did string, o Options) []string {
	if o.Answerers != nil {
		return o.Answerers
	}
	switch {
	case did == MainNumber:
		return ReceptionGroup
	case did == LocalGroupNumber:
		return LocalGroup
	case strings.HasPrefix(did, DIDPrefix) && len(did) == len(DIDPrefix)+3:
		return []string{did[len(DIDPrefix):]}
	}
	return nil
}

// Outbound places a call from extension ext to an external number.
func (d *Driver) Outbound(ctx context.Context, ext, number string, o Options) (*Call, error) {
	ans := o.Answerers
	if ans == nil {
		n := strings.TrimPrefix(number, "9")
		if len(number) == 10 {
			n = number
		}
		ans = []string{n}
	}
	return d.originate(ctx, "pbx-phones", number, ext, SidePhone, SideCarrier, ans, o)
}

// Internal places a call from extension from to extension (or group) to.
func (d *Driver) Internal(ctx context.Context, from, to string, o Options) (*Call, error) {
	ans := o.Answerers
	if ans == nil {
		if to == RingGroup {
			ans = ReceptionGroup
		} else {
			ans = []string{to}
		}
	}
	return d.originate(ctx, "pbx-phones", to, from, SidePhone, SidePhone, ans, o)
}

// WaitAnswered waits until the call is answered.
func (d *Driver) WaitAnswered(ctx context.Context, c *Call, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-c.answeredCh:
		return nil
	case <-c.hungUpCh:
		return fmt.Errorf("wait answer of %s: hung up before answer (%s)", c.ID, c.cause)
	case <-c.failedCh:
		return fmt.Errorf("wait answer of %s: originate failed (reason %s)", c.ID, c.failReason)
	case <-t.C:
		return fmt.Errorf("wait answer of %s: %w after %s", c.ID, ErrTimeout, timeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Hangup hangs the placing channel up and waits for it to be gone.
func (d *Driver) Hangup(ctx context.Context, c *Call) error {
	select {
	case <-c.hungUpCh:
		return nil
	default:
	}
	if _, err := d.client.Action(ctx, "Hangup", ami.Header{Key: "Channel", Value: c.ID}); err != nil {
		var ae *ami.ActionError
		if !errors.As(err, &ae) {
			return fmt.Errorf("hang up %s: %w", c.ID, err)
		}
	}
	return d.WaitHungUp(ctx, c, 10*time.Second)
}

// WaitHungUp waits until the placing channel has hung up.
func (d *Driver) WaitHungUp(ctx context.Context, c *Call, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-c.hungUpCh:
		return nil
	case <-t.C:
		return fmt.Errorf("wait hangup of %s: %w after %s", c.ID, ErrTimeout, timeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Talk answers-then-hangs-up: it waits for the answer, lets the call run for
// talk, then hangs up.
func (d *Driver) Talk(ctx context.Context, c *Call, talk time.Duration) error {
	if err := d.WaitAnswered(ctx, c, 30*time.Second); err != nil {
		return err
	}
	select {
	case <-time.After(talk):
	case <-ctx.Done():
		return ctx.Err()
	}
	return d.Hangup(ctx, c)
}

// Speak makes the simulator channel that placed c say a sound file of
// the simulator's (file: its path inside the chroot, without the
// extension), then play its tone again, as a caller who speaks once the
// call is bridged (docker/asterisk/sim/extensions.conf, sim-speech).
func (d *Driver) Speak(ctx context.Context, c *Call, file string) error {
	if _, err := d.client.Action(ctx, "Setvar", ami.Header{Key: "Channel", Value: c.ID},
		ami.Header{Key: "Variable", Value: "SIM_SPEECH"}, ami.Header{Key: "Value", Value: file}); err != nil {
		return fmt.Errorf("speak on %s: %w", c.ID, err)
	}
	if _, err := d.client.Action(ctx, "Redirect", ami.Header{Key: "Channel", Value: c.ID},
		ami.Header{Key: "Context", Value: "sim-speech"}, ami.Header{Key: "Exten", Value: "s"}, ami.Header{Key: "Priority", Value: "1"}); err != nil {
		return fmt.Errorf("speak on %s: %w", c.ID, err)
	}
	return nil
}

// SetPhone steers a simulated phone: mode answer, busy, noanswer or reject,
// after delay seconds of ringing.
func (d *Driver) SetPhone(ctx context.Context, ext, mode string, delay time.Duration) error {
	if _, err := d.client.Action(ctx, "DBPut", ami.Header{Key: "Family", Value: "simphone/" + ext}, ami.Header{Key: "Key", Value: "mode"}, ami.Header{Key: "Val", Value: mode}); err != nil {
		return fmt.Errorf("set phone %s: %w", ext, err)
	}
	if _, err := d.client.Action(ctx, "DBPut", ami.Header{Key: "Family", Value: "simphone/" + ext}, ami.Header{Key: "Key", Value: "delay"}, ami.Header{Key: "Val", Value: strconv.FormatFloat(delay.Seconds(), 'f', 2, 64)}); err != nil {
		return fmt.Errorf("set phone %s: %w", ext, err)
	}
	return nil
}

// SetForward makes the simulated phone ext forward every call that rings it
// to number (an extension or an external number) after delay, with a SIP
// 302 as a desk phone's call-forward setting does, until ResetPhones.
func (d *Driver) SetForward(ctx context.Context, ext, number string, delay time.Duration) error {
	if err := d.SetPhone(ctx, ext, "forward", delay); err != nil {
		return err
	}
	if _, err := d.client.Action(ctx, "DBPut", ami.Header{Key: "Family", Value: "simphone/" + ext}, ami.Header{Key: "Key", Value: "forward"}, ami.Header{Key: "Val", Value: number}); err != nil {
		return fmt.Errorf("set phone %s to forward: %w", ext, err)
	}
	return nil
}

// SetHear makes the simulated phone ext record what it hears on the calls it
// answers, in root's HeardPath(uniqueid of its answering channel), until
// ResetPhones.
func (d *Driver) SetHear(ctx context.Context, ext string) error {
	if _, err := d.client.Action(ctx, "DBPut", ami.Header{Key: "Family", Value: "simphone/" + ext}, ami.Header{Key: "Key", Value: "hear"}, ami.Header{Key: "Val", Value: "1"}); err != nil {
		return fmt.Errorf("set phone %s to record what it hears: %w", ext, err)
	}
	return nil
}

// HeardPath is where a phone set with SetHear keeps what it heard on the
// call its channel simUID answered; complete once the call hung up.
func HeardPath(root, simUID string) string {
	return filepath.Join(root, SimMonitorDir, "heard-"+simUID+".wav")
}

// ResetPhones puts every simulated phone back to answering after 0.5 s.
func (d *Driver) ResetPhones(ctx context.Context) error {
	_, err := d.client.Action(ctx, "DBDelTree", ami.Header{Key: "Family", Value: "simphone"})
	var ae *ami.ActionError
	if err != nil && !errors.As(err, &ae) {
		return fmt.Errorf("reset phones: %w", err)
	}
	return nil
}

// BlindTransfer makes the simulator channel (name or uniqueid) transfer its
// call to target with a SIP REFER, as a phone's transfer key does.
func (d *Driver) BlindTransfer(ctx context.Context, simChannel, target string) error {
	if _, err := d.client.Action(ctx, "Redirect", ami.Header{Key: "Channel", Value: simChannel},
		ami.Header{Key: "Context", Value: "sim-transfer"}, ami.Header{Key: "Exten", Value: target}, ami.Header{Key: "Priority", Value: "1"}); err != nil {
		return fmt.Errorf("blind transfer %s to %s: %w", simChannel, target, err)
	}
	return nil
}

// StartAttendedTransfer makes the simulator channel dial the PBX's attended
// transfer code (*2) and target, as a phone user does; the transfer
// completes when that channel hangs up (Hangup) after the target answered.
func (d *Driver) StartAttendedTransfer(ctx context.Context, simChannel, target string) error {
	if _, err := d.client.Action(ctx, "Setvar", ami.Header{Key: "Channel", Value: simChannel},
		ami.Header{Key: "Variable", Value: "SIM_DTMF"}, ami.Header{Key: "Value", Value: "*2" + target}); err != nil {
		return fmt.Errorf("attended transfer %s to %s: %w", simChannel, target, err)
	}
	if _, err := d.client.Action(ctx, "Redirect", ami.Header{Key: "Channel", Value: simChannel},
		ami.Header{Key: "Context", Value: "sim-dtmf"}, ami.Header{Key: "Exten", Value: "s"}, ami.Header{Key: "Priority", Value: "1"}); err != nil {
		return fmt.Errorf("attended transfer %s to %s: %w", simChannel, target, err)
	}
	return nil
}

// TransferByRefer completes an attended transfer as a desk phone's transfer
// key does after a consultation: the simulator channel simChannel (the
// phone's call with the party to hand over) sends the PBX a SIP REFER whose
// Refer-To names target and carries a Replaces of the consultation's dialog
// (the simulator channel consultChannel, the same phone's call to target),
// and hangs up once the PBX accepted it. The PBX joins the two far parties
// (res_pjsip_refer, ast_bridge_transfer_attended), with no *2 and no Local
// channel.
func (d *Driver) TransferByRefer(ctx context.Context, simChannel, consultChannel, target string) error {
	dialog := make(map[string]string, 3)
	for _, v := range []string{"call-id", "local_tag", "remote_tag"} {
		resp, err := d.client.Action(ctx, "Getvar", ami.Header{Key: "Channel", Value: consultChannel},
			ami.Header{Key: "Variable", Value: "CHANNEL(pjsip," + v + ")"})
		if err != nil {
			return fmt.Errorf("transfer %s by REFER: read the consultation's %s: %w", simChannel, v, err)
		}
		if dialog[v] = resp.Get("Value"); dialog[v] == "" {
			return fmt.Errorf("transfer %s by REFER: the consultation %s has no %s", simChannel, consultChannel, v)
		}
	}
	// The PBX finds the dialog by its own tags: its local tag is the
	// simulator's remote one (the consultation's To tag).
	replaces := dialog["call-id"] + ";to-tag=" + dialog["remote_tag"] + ";from-tag=" + dialog["local_tag"]
	referTo := "sip:" + target + "@127.0.0.1:5060?Replaces=" + url.QueryEscape(replaces)
	if _, err := d.client.Action(ctx, "Setvar", ami.Header{Key: "Channel", Value: simChannel},
		ami.Header{Key: "Variable", Value: "SIM_REFER_TO"}, ami.Header{Key: "Value", Value: referTo}); err != nil {
		return fmt.Errorf("transfer %s by REFER: set SIM_REFER_TO: %w", simChannel, err)
	}
	if _, err := d.client.Action(ctx, "Redirect", ami.Header{Key: "Channel", Value: simChannel},
		ami.Header{Key: "Context", Value: "sim-transfer-attended"}, ami.Header{Key: "Exten", Value: "s"}, ami.Header{Key: "Priority", Value: "1"}); err != nil {
		return fmt.Errorf("transfer %s by REFER: redirect to the transfer key: %w", simChannel, err)
	}
	return nil
}

// HangupChannel hangs up any simulator channel by name or uniqueid.
func (d *Driver) HangupChannel(ctx context.Context, simChannel string) error {
	if _, err := d.client.Action(ctx, "Hangup", ami.Header{Key: "Channel", Value: simChannel}); err != nil {
		return fmt.Errorf("hang up %s: %w", simChannel, err)
	}
	return nil
}
