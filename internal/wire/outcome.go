package wire

// Reliable delivery of end-user request outcomes:
//
//	agent → broker request_outcome_ack {request_id}
//
// The broker sends a request's outcome (support_request_result,
// elevation_request_result, elevation_code) when it is decided and again
// each time the agent comes online until the agent acknowledges it, so an
// endpoint that was offline at the decision still tells its end user.
func init() {
	register(func() Message { return &RequestOutcomeAck{} })
}

// RequestOutcomeAck says the agent has handed a request's outcome to the
// end user (the waiting command or a desktop dialog) and remembers it, so
// the broker stops resending it. RequestID is the agent's own id of the
// request, as quoted in the outcome.
type RequestOutcomeAck struct {
	RequestID string `json:"request_id"`
}

func (*RequestOutcomeAck) Type() string { return "request_outcome_ack" }

// Validate checks the id.
func (m *RequestOutcomeAck) Validate() error { return validID(m.RequestID) }
