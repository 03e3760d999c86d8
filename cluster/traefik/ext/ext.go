// Package ext stands in for Traefik's nested module of the same path, which
// its module zip does not carry and the Go module proxy does not serve. In
// open-source Traefik both extension points are empty structs.
package ext

// HTTP extends dynamic.HTTP (empty in open-source Traefik).
type HTTP struct{}

// Router extends dynamic.Router (empty in open-source Traefik).
type Router struct{}
