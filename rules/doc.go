// Package rules reads, validates and applies the City of Mercier's
// call-recording rules file.
//
// The rules file is the one place where the city's telecom administrators
// state the policy of May 2019 ("Politique d'enregistrement des appels"):
// which extensions (Annexe A) are recorded, which phone must never be
// recorded (the detainee-to-lawyer phone), what makes a party external,
// how recordings are named, how long they are kept and when the retention
// and integrity jobs run.
//
// Parsing is strict, in the style of Prometheus' model/rulefmt: unknown
// keys, wrong types, repeated keys and every semantic mistake are errors,
// and every error of a file is reported at once, each as
// "file:line:col: message" naming the fix. A file with any error is
// rejected as a whole, so a typo can never make the daemon record a phone
// it must not, nor stop recording one it must: the daemon keeps running
// on the last good rules.
//
// # The rules file
//
// One YAML document; rules/mercier.yaml is the city's, fully commented.
//
//	timezone: America/Toronto                 # IANA zone of file names and schedules
//	filename: "{date}-{hour}{minute}-{extension}"   # + optional {second}; no ".wav"
//	greeting:                                 # the notice every caller hears
//	  sound: recpolicy/avis-enregistrement    # Asterisk sound name
//	  file: sounds/avis-enregistrement.wav    # relative to the rules file; must exist
//	  language: fr
//	departments:                              # the "Direction" column of Annexe A
//	  - {id: greffe, name: Greffe, director: "Me Denis Ferland, greffier", director_user: dferland}
//	  - {id: communications-ti, name: Communications et TI, director: Directeur}
//	extensions:                               # Annexe A: external calls recorded
//	  - {number: 252, departments: [greffe], description: "Directeur", confidential: true}
//	  - {number: 245, departments: [greffe, communications-ti], description: "Préposée – Cour municipale et guichet unique"}
//	  - {number: 235, departments: [communications-ti], description: "Directeur", endpoint: "235"}
//	never_record:                             # never recorded, on any path
//	  - {number: 899, endpoint: "899", reason: "Poste réservé aux détenus"}
//	external:
//	  trunks: [carrier]                       # PJSIP endpoints of the carrier trunks
//	  numbers: ['1?[2-9][0-9]{2}[2-9][0-9]{6}', '9.+']   # regexes of whole numbers
//	site_links:                               # optional: trunks to the city's other PBX sites
//	  - {trunk: poste-police, name: "Poste de police", numbers: ['8[0-9]{2}']}
//	retention:                                # days; "standard" required; each >= 365
//	  standard: 365
//	  complaint: 1095
//	schedules:                                # 5-field cron, or @daily, @weekly, @every 1h…
//	  retention: "30 3 * * *"
//	  integrity: "0 4 * * 0"
//
// An extension's endpoint defaults to its number, and so does a
// never_record entry's. The channel decides who a party is, never the
// number it presents: a party on a carrier trunk is external whatever
// caller ID it shows, and a phone is what its endpoint is. External number
// patterns apply only to parties without an endpoint (Local channels whose
// far side is unknown) and must match the whole number; none may match an
// Annexe A number. A site link is a trunk to another of the city's own PBX
// sites: a party on it is trusted for the number it presents only when
// that is a city number (never_record, Annexe A, or one of the link's
// numbers patterns), and is external otherwise. A phone cannot be both in
// Annexe A and in never_record, nor be a trunk; a trunk is a carrier trunk
// or a site link, not both.
//
// Once loaded, a *Rules is immutable and safe for concurrent use. The
// decision functions ([Rules.Classify], [Rules.Decide], [Rules.Explain])
// are pure: they do no I/O.
package rules
