package link

import "kessai/internal/checkout"

// orders is the hosted order's lifecycle (package checkout): the handlers parse, move the order
// through it and render; they do not change order rows themselves.
func (h *Handler) orders() *checkout.Orders { return &checkout.Orders{DB: h.Pay.DB, Clock: h.Clock} }
