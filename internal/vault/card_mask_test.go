package vault

import "testing"

func TestMaskStored(t *testing.T) {
	for _, c := range []struct{ first6, last4, want string }{
		{"411111", "1111", "411111******1111"},
		{"", "0005", "************0005"},
		{"", "", ""},
	} {
		if got := MaskStored(c.first6, c.last4); got != c.want {
			t.Errorf("MaskStored(%q, %q) = %q, want %q", c.first6, c.last4, got, c.want)
		}
	}
	// a stored card and its full number render alike
	if MaskStored("411111", "1111") != Mask("4111111111111111") {
		t.Errorf("MaskStored and Mask disagree: %q vs %q", MaskStored("411111", "1111"), Mask("4111111111111111"))
	}
}
