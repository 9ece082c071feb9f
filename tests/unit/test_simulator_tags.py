"""Simulated stations each charge with their own tag unless one fixed tag is asked for."""

from __future__ import annotations

from borne.simulator import SimulationConfig


def test_numbered_tags_follow_station_numbers() -> None:
    cfg = SimulationConfig(stations=3, id_prefix="SIM16-", id_tag="T16-{index:04d}")
    assert [cfg.station_id(i) for i in range(3)] == ["SIM16-0001", "SIM16-0002", "SIM16-0003"]
    assert [cfg.tag_for(i) for i in range(3)] == ["T16-0001", "T16-0002", "T16-0003"]


def test_fixed_tag_is_shared() -> None:
    cfg = SimulationConfig(stations=2, id_tag="SIMTAG0001")
    assert cfg.tag_for(0) == cfg.tag_for(1) == "SIMTAG0001"
