package report

import (
	"fmt"
	"html"
	"html/template"
	"strings"
	"time"
)

// palette colours the departments' lines (colour-blind-safe, Okabe–Ito).
var palette = []string{"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"}

// dailyChart draws the coverage of each department day by day (only days
// with external calls have a point), with a legend.
func (r *Report) dailyChart() template.HTML {
	const w, h, left, top, plotW, plotH = 760, 300, 48, 24, 690, 200
	days := int(r.To.Sub(r.From).Hours()/24 + 0.5)
	if days < 1 {
		days = 1
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="Couverture par jour et par service">`, w, h, w, h)
	x := func(day int) float64 { return left + float64(day-1)*float64(plotW)/float64(max(days-1, 1)) }
	y := func(cov float64) float64 { return top + (1-cov)*plotH }
	for _, t := range []float64{0, 0.5, 0.9, 1} {
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#d0d7de" stroke-width="1"/>`, left, y(t), left+plotW, y(t))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" font-size="11" text-anchor="end" fill="#333">%s</text>`, left-6, y(t)+4, html.EscapeString(strings.TrimSuffix(pct(t), ",0 %")+" %"))
	}
	for d := 1; d <= days; d += 5 {
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="11" text-anchor="middle" fill="#333">%d</text>`, x(d), top+plotH+16, d)
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" fill="#333">jour du mois</text>`, left+plotW-70, top+plotH+32)
	depts := []string{}
	byDept := map[string][]Day{}
	for _, d := range r.Daily {
		if _, ok := byDept[d.Department]; !ok {
			depts = append(depts, d.Department)
		}
		byDept[d.Department] = append(byDept[d.Department], d)
	}
	names := map[string]string{}
	for _, d := range r.Departments {
		names[d.ID] = d.Name
	}
	for i, dep := range depts {
		col := palette[i%len(palette)]
		var pts []string
		for _, d := range byDept[dep] {
			t, err := time.Parse(time.DateOnly, d.Day)
			if err != nil || d.External == 0 {
				continue
			}
			cov := float64(d.Recorded) / float64(d.External)
			px, py := x(t.Day()), y(cov)
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px, py))
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s %s : %d/%d</title></circle>`, px, py, col,
				html.EscapeString(names[dep]), d.Day, d.Recorded, d.External)
		}
		if len(pts) > 1 {
			fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="1.5"/>`, strings.Join(pts, " "), col)
		}
		lx, ly := left+(i%4)*175, top+plotH+50+(i/4)*16
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d" font-size="11" fill="#333">%s</text>`,
			lx, ly-9, col, lx+14, ly, html.EscapeString(names[dep]))
	}
	if len(depts) == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="13" fill="#333">Aucun appel externe ce mois-ci.</text>`, left+20, top+plotH/2)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // built here from escaped text
}

// deptChart draws each department's coverage as a bar.
func (r *Report) deptChart() template.HTML {
	const left, barW, rowH = 230, 380, 22
	var rows []DeptRow
	for _, d := range r.Departments {
		if d.Total.External > 0 {
			rows = append(rows, d)
		}
	}
	h := 20 + rowH*max(len(rows), 1)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="760" height="%d" viewBox="0 0 760 %d" role="img" aria-label="Couverture par service">`, h, h)
	for i, d := range rows {
		y := 10 + i*rowH
		col := "#009E73"
		if d.Total.Recorded < d.Total.External {
			col = "#D55E00"
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="12" text-anchor="end" fill="#222">%s</text>`, left-8, y+14, html.EscapeString(d.Name))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="16" fill="#eef2f5"/>`, left, y+2, barW)
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="16" fill="%s"/>`, left, y+2, d.Total.Coverage*barW, col)
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="12" fill="#222">%d / %d (%s)</text>`, left+barW+8, y+14, d.Total.Recorded, d.Total.External, html.EscapeString(pct(d.Total.Coverage)))
	}
	if len(rows) == 0 {
		b.WriteString(`<text x="10" y="24" font-size="13" fill="#333">Aucun appel externe ce mois-ci.</text>`)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // built here from escaped text
}
