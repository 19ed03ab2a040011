"""booking.kit.timers: a nameko timer whose interval the config sets."""
import eventlet
from nameko.testing.utils import get_extension

from booking.kit.timers import ConfiguredTimer, configured_timer


class Ticker:
    name = "ticker"
    ticks = []

    @configured_timer("TICK_SECONDS", 60)
    def tick(self):
        Ticker.ticks.append(1)


def test_the_timer_fires_at_the_interval_the_config_sets(container_factory):
    container = container_factory(Ticker, {"TICK_SECONDS": "0.05"})
    container.start()
    assert get_extension(container, ConfiguredTimer).interval == 0.05
    with eventlet.Timeout(5):
        while len(Ticker.ticks) < 3:  # at its own 60 s, not one before the timeout
            eventlet.sleep(0.01)
    container.stop()


def test_without_the_setting_it_fires_at_its_own_interval(container_factory):
    container = container_factory(Ticker, {})
    container.start()
    assert get_extension(container, ConfiguredTimer).interval == 60
    container.stop()
