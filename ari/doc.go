// Package ari is recpolicy's Asterisk REST Interface (ARI) client: it keeps
// the "recpolicy" Stasis application registered on the PBX and plays the
// call-recording notice ("Il est possible que l'appel soit enregistré")
// to every inbound caller the dialplan hands to it.
//
// # Greeting
//
// The PBX dialplan (dialplan/recpolicy.conf) sends every inbound carrier call
// to Stasis(recpolicy,greeting). For each such channel the Client answers it
// when it is not up yet, plays GreetingConfig.Sound with a playback ID chosen
// before the request (events may arrive before the REST reply), and on
// PlaybackFinished sets the inherited channel variable
// __RECPOLICY_GREETED=ari and continues the channel at the next dialplan
// priority, where the dialplan sees RECPOLICY_GREETED=ari and goes on with
// the call. When anything fails the channel is continued without the
// variable, so the dialplan's fallback plays the greeting itself. A caller
// who hangs up during the greeting is reported as cut short. A StasisStart
// whose arguments are not "greeting" is continued at once. No channel is left
// in Stasis: every path ends with a continue (or, when continuing keeps
// failing until GreetingConfig.Timeout, a hangup). Every handled channel
// produces one GreetingResult on Client.Results.
//
// The decision logic is a pure state machine (session.go) fed with inputs
// and returning actions; the dispatcher (dispatcher.go) owns the sessions,
// turns ARI events and REST replies into inputs and runs the actions in
// goroutines, so it never blocks on the network.
//
// # Connection
//
// The Client owns the connection lifecycle instead of delegating it to
// github.com/CyCoreSystems/ari/v6/client/native, whose defects (this package
// pins v6.0.0-20251024161400-681c62bc07e7) it must not inherit:
//
//   - native's REST calls use an http.Client with no timeout and no context,
//     and native.Options offers no hook to replace it; its WebSocket dial has
//     no timeout either (only WSConfig could carry a dialer, and the upgrade
//     handshake would still be unbounded). Here every REST request has a
//     context and Config.RequestTimeout, the TCP dial and the WebSocket
//     upgrade have Config.DialTimeout, and writes have a deadline.
//   - native reconnects every second, silently, without resynchronising, and
//     reading its connected flag is a data race. Here the Client dials,
//     supervises and redials itself with capped exponential backoff
//     (Config.MinBackoff..MaxBackoff, with jitter), exposes the state through
//     Connected and State, and resynchronises after every connect.
//   - native's bus drops events past a 100-event subscription buffer and never
//     delivers events without keys (ApplicationReplaced) or of unknown types.
//     Here one reader goroutine per connection decodes frames (with
//     ari.DecodeEvent, for the types the greeting needs) and hands them to an
//     unbounded queue, so the reader never blocks and Asterisk never drops
//     the WebSocket for a slow reader; ApplicationReplaced is seen and acted
//     on.
//   - native.New fills empty options from ARI_* environment variables. This
//     package never reads the environment: every setting comes from Config.
//
// Liveness: Asterisk answers WebSocket pings, so every Config.HealthInterval
// the Client pings the WebSocket (any frame resets a read-idle deadline of
// three intervals) and asks GET /applications/{name}; a missing application
// or two failed checks in a row close the connection, which is then redialled.
//
// Resynchronisation: when the WebSocket drops, Asterisk deactivates the
// application and throws its events away, but channels already in Stasis stay
// there. After every connect, and on every health check, the Client lists the
// application's channels. A channel in Stasis(recpolicy) with no greeting in
// progress is continued after a short grace period, without setting
// RECPOLICY_GREETED unless it is already set, so the dialplan fallback greets
// the caller; a greeting whose playback vanished while events were lost is
// failed over to the dialplan the same way; a greeting whose channel left
// the application unseen is closed as cut short.
//
// Shutdown: when Run's context is cancelled the WebSocket is closed first (so
// new calls take the dialplan fallback at once), greetings in progress are
// stopped and their channels continued without the variable, and Run returns
// once every goroutine has ended, after at most about twice
// Config.RequestTimeout.
package ari
