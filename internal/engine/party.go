package engine

import (
	"strings"

	"github.com/villedemercier/recpolicy/rules"
)

// endpointOf extracts the endpoint from an Asterisk channel name:
// "PJSIP/235-0000001a" → ("PJSIP", "235"); "Local/200@internal-00000001;2" →
// ("Local", ""). Only PJSIP, SIP and IAX2 channels name an endpoint.
func endpointOf(channel string) (tech, endpoint string) {
	tech, _, _ = strings.Cut(channel, "/")
	if !strings.Contains(channel, "/") {
		tech = ""
	}
	return tech, rules.EndpointOf(channel)
}

// dialledNumber extracts the number from a Dial string: "5145550100@carrier"
// → "5145550100", "PJSIP/235" → "235", "235" → "235".
func dialledNumber(dialString string) string {
	s := dialString
	if slash := strings.IndexByte(s, '/'); slash >= 0 {
		s = s[slash+1:]
	}
	if at := strings.IndexByte(s, '@'); at >= 0 {
		s = s[:at]
	}
	if strings.HasPrefix(s, "sip:") {
		s = s[4:]
	}
	return s
}

// party is the rules' view of one channel.
func (c *channel) party() rules.Party {
	num := c.callerNum
	if c.dialled != "" {
		num = c.dialled
	}
	return rules.Party{Endpoint: c.endpoint, Number: num}
}
