package ari

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// resultBuffer is the capacity of the Results channel.
const resultBuffer = 256

// Client is the recpolicy ARI application: it keeps the Stasis application
// registered and greets the channels the dialplan hands to it. Create it
// with NewClient and start it with Run.
type Client struct {
	cfg     Config
	greet   GreetingConfig
	log     zerolog.Logger
	results chan GreetingResult
	dropped atomic.Uint64
	state   atomic.Int32
	running atomic.Bool
	grace   time.Duration          // resyncGrace; shorter in tests
	sound   atomic.Pointer[string] // the greeting played now (SetGreetingSound)
}

// SetGreetingSound makes the greetings that start from now on play sound
// (an Asterisk media URI such as "sound:recpolicy/avis-enregistrement"): a
// rules reload changes the greeting without a restart; a greeting playing
// finishes as it began.
func (c *Client) SetGreetingSound(sound string) {
	if sound == "" || sound == c.greetingSound() {
		return
	}
	c.sound.Store(&sound)
	c.log.Info().Str("sound", sound).Msg("greeting took the new rules: new greetings play this sound")
}

// greetingSound is the sound to play now.
func (c *Client) greetingSound() string {
	if p := c.sound.Load(); p != nil {
		return *p
	}
	return c.greet.Sound
}

// NewClient returns a Client for cfg and g (zero fields take the defaults;
// Run reports invalid settings). log receives the client's logs.
func NewClient(cfg Config, g GreetingConfig, log zerolog.Logger) *Client {
	return &Client{
		cfg:     cfg.withDefaults(),
		greet:   g.withDefaults(),
		log:     log.With().Str("component", "ari").Logger(),
		results: make(chan GreetingResult, resultBuffer),
		grace:   resyncGrace,
	}
}

// Connected reports whether the event WebSocket is up, i.e. whether Asterisk
// hands inbound calls to this client rather than to the dialplan fallback.
func (c *Client) Connected() bool { return c.State() == StateConnected }

// State returns the connection state.
func (c *Client) State() ConnState { return ConnState(c.state.Load()) }

// Results returns the channel on which one GreetingResult per handled
// channel is sent. It is buffered; when the reader falls behind, results are
// dropped (see DroppedResults) rather than delaying calls. It is closed when
// Run returns.
func (c *Client) Results() <-chan GreetingResult { return c.results }

// DroppedResults returns how many results were dropped because Results was
// full.
func (c *Client) DroppedResults() uint64 { return c.dropped.Load() }

func (c *Client) setState(s ConnState) {
	if old := ConnState(c.state.Swap(int32(s))); old != s {
		c.log.Debug().Stringer("from", old).Stringer("to", s).Msg("connection state")
	}
}

func (c *Client) sendResult(r GreetingResult) {
	select {
	case c.results <- r:
	default:
		if n := c.dropped.Add(1); n == 1 || n%100 == 0 {
			c.log.Warn().Uint64("dropped", n).Msg("greeting results channel full; dropping results")
		}
	}
}

// Run connects to Asterisk and serves the application until ctx is
// cancelled, reconnecting with capped exponential backoff whenever the
// connection fails. On cancellation it closes the WebSocket, continues the
// channels it was greeting, waits (at most about twice RequestTimeout) for
// its requests, and returns nil once every goroutine it started has ended.
// It returns an error only for an invalid configuration or a second call.
func (c *Client) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return ErrAlreadyRunning
	}
	defer close(c.results)
	defer c.setState(StateStopped)
	if err := c.cfg.Validate(); err != nil {
		return fmt.Errorf("start ari client: %w", err)
	}
	if err := c.greet.Validate(); err != nil {
		return fmt.Errorf("start ari client: %w", err)
	}
	rest, err := newRESTClient(c.cfg, false)
	if err != nil {
		return fmt.Errorf("start ari client: %w", err)
	}
	defer rest.close()

	// Requests outlive ctx for the shutdown drain, up to shutdownCap.
	opsCtx, opsCancel := context.WithCancel(context.WithoutCancel(ctx))
	defer opsCancel()
	d := newDispatcher(opsCtx, c.log, c.cfg.Application, c.greet, rest, c.sendResult)
	d.grace = c.grace
	d.sound = c.greetingSound

	var wg sync.WaitGroup
	dispatched := make(chan struct{})
	wg.Go(func() {
		defer close(dispatched)
		d.run(opsCtx)
	})
	wg.Go(func() { c.connectLoop(ctx, rest, d) })
	c.log.Info().Object("config", c.cfg).Str("sound", c.greet.Sound).Dur("greeting_timeout", c.greet.Timeout).Msg("ari client started")

	<-ctx.Done()
	d.post(msgShutdown{})
	shutdownCap := time.NewTimer(2 * c.cfg.RequestTimeout)
	defer shutdownCap.Stop()
	select {
	case <-dispatched:
	case <-shutdownCap.C:
		c.log.Warn().Msg("greetings still in progress at shutdown deadline; abandoning them")
	}
	opsCancel()
	wg.Wait()
	d.wait()
	c.log.Info().Msg("ari client stopped")
	return nil
}
