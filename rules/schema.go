package rules

import "go.yaml.in/yaml/v3"

// The rules file, key by key (see rules/mercier.yaml for a complete,
// commented example):
//
//	timezone: America/Toronto            # IANA zone of file names and schedules
//	filename: "{date}-{hour}{minute}-{extension}"
//	greeting:
//	  sound: recpolicy/avis-enregistrement   # Asterisk sound name
//	  file: sounds/avis-enregistrement.wav   # relative to the rules file
//	  language: fr
//	departments:                          # the "Direction" column of Annexe A
//	  - {id: greffe, name: Greffe, director: "Me Denis Ferland, greffier", director_user: dferland}
//	extensions:                           # Annexe A, one row per extension
//	  - {number: 252, departments: [greffe], description: "Directeur", confidential: true}
//	never_record:                         # phones never recorded, on any path
//	  - {number: 899, endpoint: "899", reason: "Téléphone des détenus"}
//	external:
//	  trunks: [carrier]                   # PJSIP endpoints of carrier trunks
//	  numbers: ['1?[2-9][0-9]{2}[2-9][0-9]{6}', '9.+']  # whole-number regexes
//	retention:                            # days; standard required; each >= 365
//	  standard: 365
//	schedules:                            # cron (5 fields) or @daily, @weekly…
//	  retention: "30 3 * * *"
//	  integrity: "@weekly"
//
// The types below hold the file as written, each value with the YAML node
// it came from so that semantic errors can point at it. A nil node means
// the key was absent or its value was rejected by the decoder.

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
	Retention   rawRetention
	Schedules   rawSchedules
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
	Departments  []scalar
	Description  scalar
	Confidential flag
	Endpoint     scalar
}

type rawNever struct {
	N                        *yaml.Node
	Number, Endpoint, Reason scalar
}

type rawExternal struct {
	N       *yaml.Node
	Trunks  []scalar
	Numbers []scalar
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
	Retention, Integrity scalar
}
