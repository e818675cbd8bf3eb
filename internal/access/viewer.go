package access

import (
	"slices"

	"github.com/villedemercier/recpolicy/archive/query"
	"github.com/villedemercier/recpolicy/archive/register"
	"github.com/villedemercier/recpolicy/rules"
)

// The roles, as the access log writes them.
const (
	RoleAdministrator = register.RoleAdministrator // the IT director and the admins of the daemon config
	RoleDirector      = register.RoleDirector      // a department's director_user in the rules
	RoleReviewer      = register.RoleReviewer      // a Greffe reviewer of written requests: reads the register
	RoleTrainer       = register.RoleTrainer       // prepares de-identified training copies
	RoleNone          = register.RoleNone          // anyone else: no access
)

// Rights are who holds which role, from the daemon config.
type Rights struct {
	Administrators  []string // access.administrators
	GreffeReviewers []string // access.greffe_reviewers
	Trainers        []string // access.trainers
}

// Viewer is an identity with its rights.
type Viewer struct {
	Identity
	Role        string
	Departments []string // a director's departments
	Extensions  []string // a director's extensions (confidential ones excluded)
	Endpoints   []string // their PJSIP endpoints, in the same order
	// Hidden is the confidentiality filter of the rules' confidential
	// extensions (fails closed): a director's and a trainer's lists never
	// show those calls, and no one takes a training copy of one.
	Hidden query.Confidential
	// Reviewer: a Greffe reviewer of written requests (a director may be
	// one too); reads the register.
	Reviewer bool
}

// Admin tells whether v administers the recording system.
func (v Viewer) Admin() bool { return v.Role == RoleAdministrator }

// Resolve gives id its rights: an administrator (rights.Administrators,
// the daemon config's access.administrators) sees everything; a director
// (the director_user of departments of r) the extensions of those
// departments, never a call of a confidential extension; a trainer
// (rights.Trainers) the extensions not bound by confidentiality, for
// training copies only; a Greffe reviewer (rights.GreffeReviewers) reads
// the register of written requests, and nothing else unless also a
// director; anyone else nothing. It is a pure function.
func Resolve(id Identity, rights Rights, r *rules.Rules) Viewer {
	v := Viewer{Identity: id, Role: RoleNone}
	if r != nil {
		v.Hidden.Directors = true
		for _, e := range r.Extensions() {
			if e.Confidential {
				v.Hidden.Numbers = append(v.Hidden.Numbers, e.Number)
				v.Hidden.Endpoints = append(v.Hidden.Endpoints, e.Endpoint)
			}
		}
	}
	if slices.Contains(rights.Administrators, id.Login) {
		v.Role = RoleAdministrator
		return v
	}
	if id.Login == "" {
		return v
	}
	if slices.Contains(rights.GreffeReviewers, id.Login) {
		v.Role, v.Reviewer = RoleReviewer, true
	}
	if r == nil {
		return v
	}
	if slices.Contains(rights.Trainers, id.Login) {
		// A trainer's scope is every extension not bound by
		// confidentiality; a trainer who also directs a department stays a
		// trainer (the wider of the two scopes, for training only).
		v.Role = RoleTrainer
		for _, e := range r.Extensions() {
			if !e.Confidential {
				v.Extensions = append(v.Extensions, e.Number)
				v.Endpoints = append(v.Endpoints, e.Endpoint)
			}
		}
		return v
	}
	for _, d := range r.Departments() {
		if d.DirectorUser != "" && d.DirectorUser == id.Login {
			v.Departments = append(v.Departments, d.ID)
		}
	}
	if len(v.Departments) == 0 {
		return v
	}
	v.Role = RoleDirector // a director who reviews for the Greffe keeps Reviewer
	for _, n := range r.DirectorExtensions(id.Login) {
		ep := n
		if e, ok := r.Extension(n); ok {
			ep = e.Endpoint
		}
		v.Extensions = append(v.Extensions, n)
		v.Endpoints = append(v.Endpoints, ep)
	}
	return v
}

// Denied is the error for an access v may not have, with the hint that
// fits v's role.
func (v Viewer) Denied(reason string) error {
	hint := ""
	switch v.Role {
	case RoleNone:
		hint = "only the administrators of the daemon config (access.administrators) and the directors named in the rules file (director_user) have access; ask the IT director"
	case RoleDirector:
		hint = "a director sees the extensions of their own department, never those of staff bound by professional confidentiality; other access goes through a written request (recpolicy requests)"
	case RoleTrainer:
		hint = "a trainer opens recordings of extensions not bound by professional confidentiality, to prepare training copies; nothing else"
	case RoleReviewer:
		hint = "a Greffe reviewer reads the register of written requests (recpolicy requests list, show); recordings are handed over by the IT department for a granted request"
	}
	return &DeniedError{Login: v.Login, Reason: reason, Hint: hint}
}
