package rules

import "go.yaml.in/yaml/v3"

// The types below hold the file as decoded (see the package documentation
// for its keys), each value with the YAML node it came from so that
// semantic errors can point at it. A nil node means the key was absent or
// its value was rejected by the decoder.

// scalar is one scalar value as written.
type scalar struct {
	V string
	N *yaml.Node
}

// ok reports whether the value was present and well-typed.
func (s scalar) ok() bool { return s.N != nil }

// flag is a boolean value as written.
type flag struct {
	V bool
	N *yaml.Node
}

// number is an integer value as written.
type number struct {
	V int
	N *yaml.Node
}

type rawFile struct {
	root        *yaml.Node
	Timezone    scalar
	Filename    scalar
	Greeting    rawGreeting
	Departments rawDepartments
	Extensions  rawExtensions
	NeverRecord []rawNever
	External    rawExternal
	SiteLinks   []rawSiteLink
	Retention   rawRetention
	Schedules   rawSchedules
	// Instructions are the exceptional instructions (optional).
	Instructions []rawInstruction
}

type rawGreeting struct {
	Sound, File, Language scalar
}

type rawDepartments struct {
	N     *yaml.Node
	Items []rawDepartment
	// Complete is false when some item had no usable id: references to
	// unknown departments are then not reported, as they may be that one.
	Complete bool
}

type rawDepartment struct {
	N                                *yaml.Node
	ID, Name, Director, DirectorUser scalar
}

type rawExtensions struct {
	N     *yaml.Node
	Items []rawExtension
}

type rawExtension struct {
	N            *yaml.Node
	Number       scalar
	DeptsN       *yaml.Node // the departments list, nil when absent
	Departments  []scalar
	Description  scalar
	Confidential flag
	Endpoint     scalar
}

type rawNever struct {
	N                        *yaml.Node
	HasPhone                 bool // a number or endpoint key is present
	Number, Endpoint, Reason scalar
}

type rawExternal struct {
	N       *yaml.Node
	TrunksN *yaml.Node // the trunks list, nil when absent
	Trunks  []scalar
	Numbers []scalar
}

// rawSiteLink is one trunk to another of the city's PBX sites.
type rawSiteLink struct {
	N           *yaml.Node
	Trunk, Name scalar
	Numbers     []scalar
}

type rawInstruction struct {
	N                                                             *yaml.Node
	ID, Role, Name, Reference, From, Until, Effect, Class, Reason scalar
	Extensions                                                    []scalar
}

type rawRetention struct {
	N       *yaml.Node
	Classes []rawClass
}

type rawClass struct {
	Name scalar
	Days number
}

type rawSchedules struct {
	Retention, Integrity, Report scalar
}
