package server

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/filmroom/filmroom/annotations/live"
)

// liveCollector exposes the live hub's counts at scrape time, so nothing
// on the message path pays for metrics.
type liveCollector struct {
	hub                       *live.Hub
	rooms, clients, delivered *prometheus.Desc
	closes                    *prometheus.Desc
}

func newLiveCollector(hub *live.Hub) *liveCollector {
	return &liveCollector{
		hub:       hub,
		rooms:     prometheus.NewDesc("filmroom_live_rooms", "Live review rooms open on this node.", nil, nil),
		clients:   prometheus.NewDesc("filmroom_live_clients", "Websocket clients connected to this node.", nil, nil),
		delivered: prometheus.NewDesc("filmroom_live_messages_delivered_total", "Messages delivered to live clients.", nil, nil),
		closes:    prometheus.NewDesc("filmroom_live_closes_total", "Live connections closed, by websocket close code.", []string{"code"}, nil),
	}
}

func (c *liveCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.rooms
	ch <- c.clients
	ch <- c.delivered
	ch <- c.closes
}

func (c *liveCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.hub.Stats()
	ch <- prometheus.MustNewConstMetric(c.rooms, prometheus.GaugeValue, float64(s.Rooms))
	ch <- prometheus.MustNewConstMetric(c.clients, prometheus.GaugeValue, float64(s.Clients))
	ch <- prometheus.MustNewConstMetric(c.delivered, prometheus.CounterValue, float64(s.Delivered))
	for code, n := range s.Closes {
		ch <- prometheus.MustNewConstMetric(c.closes, prometheus.CounterValue, float64(n), strconv.Itoa(code))
	}
}
