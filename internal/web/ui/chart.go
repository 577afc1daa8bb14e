package ui

import (
	"fmt"
	"html/template"
	"strings"
)

// ChartPoint is one bar of a chart.
type ChartPoint struct {
	Label string // under the bar (shown for some bars only when there are many)
	Value int64
	Tip   string // tooltip (SVG <title>)
}

// BarChart renders a bar chart as inline SVG: no script, no inline style (the CSP forbids both),
// scaled by its viewBox so it fits a phone as well as a desktop. Colours come from the style sheet.
func BarChart(title string, pts []ChartPoint) template.HTML {
	const w, h, left, bottom, top = 720.0, 240.0, 64.0, 28.0, 12.0
	var max int64
	for _, p := range pts {
		if p.Value > max {
			max = p.Value
		}
	}
	scaleMax := niceCeil(max)
	esc := template.HTMLEscapeString
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`, w, h, esc(title))
	fmt.Fprintf(&b, `<title>%s</title>`, esc(title))
	plotH := h - bottom - top
	for i := 0; i <= 4; i++ {
		y := top + plotH - plotH*float64(i)/4
		v := scaleMax * int64(i) / 4
		fmt.Fprintf(&b, `<line class="grid" x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f"/>`, left, y, w-4, y)
		fmt.Fprintf(&b, `<text class="axis" x="%.0f" y="%.1f" text-anchor="end">%s</text>`, left-6, y+4, esc(Yen(v)))
	}
	if n := len(pts); n > 0 {
		slot := (w - left - 4) / float64(n)
		bw := slot * 0.7
		every := 1
		if n > 12 {
			every = (n + 9) / 10
		}
		for i, p := range pts {
			x := left + slot*float64(i) + (slot-bw)/2
			bh := 0.0
			if scaleMax > 0 {
				bh = plotH * float64(p.Value) / float64(scaleMax)
			}
			fmt.Fprintf(&b, `<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s</title></rect>`,
				x, top+plotH-bh, bw, bh, esc(p.Tip))
			if i%every == 0 || i == n-1 {
				fmt.Fprintf(&b, `<text class="axis" x="%.1f" y="%.0f" text-anchor="middle">%s</text>`, x+bw/2, h-8, esc(p.Label))
			}
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten, so axis labels are round numbers.
func niceCeil(v int64) int64 {
	if v <= 0 {
		return 4
	}
	p := int64(1)
	for p*10 <= v {
		p *= 10
	}
	for _, m := range []int64{1, 2, 5, 10} {
		if m*p >= v {
			c := m * p
			if c%4 != 0 && c >= 4 {
				// keep the four grid steps whole numbers
				c = (c + 3) / 4 * 4
			}
			return c
		}
	}
	return v
}
