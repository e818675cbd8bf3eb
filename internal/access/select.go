package access

import (
	"fmt"
	"slices"
	"strings"

	"github.com/villedemercier/recpolicy/rules"
)

// ErrUnknownDepartment: a department the rules file does not have.
var ErrUnknownDepartment = fmt.Errorf("unknown department")

// Select fills q's extension filter from what someone asked for: some
// extension numbers, a department of r (its extensions, those of exts
// only when both are given), or neither (no filter: the guard narrows to
// what the viewer may see). The CLI and the console ask it the same way.
func Select(q *Query, r *rules.Rules, exts []string, department string) error {
	if department != "" {
		if _, ok := r.Department(department); !ok {
			var ids []string
			for _, d := range r.Departments() {
				ids = append(ids, d.ID)
			}
			return fmt.Errorf("%w %q: use one of %s", ErrUnknownDepartment, department, strings.Join(ids, ", "))
		}
		q.ByExtension = true
		for _, e := range r.Extensions() {
			if slices.Contains(e.Departments, department) && (len(exts) == 0 || slices.Contains(exts, e.Number)) {
				q.Extensions = append(q.Extensions, e.Number)
				q.Endpoints = append(q.Endpoints, e.Endpoint)
			}
		}
		return nil
	}
	if len(exts) > 0 {
		q.ByExtension = true
		for _, n := range exts {
			ep := n
			if e, ok := r.Extension(n); ok {
				ep = e.Endpoint
			}
			q.Extensions = append(q.Extensions, n)
			q.Endpoints = append(q.Endpoints, ep)
		}
	}
	return nil
}
