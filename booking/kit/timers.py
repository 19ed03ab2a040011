"""`configured_timer`: nameko's timer, its interval a setting of the config.

    @configured_timer("HOLD_SWEEP_SECONDS", 30, eager=True)
    def expire_holds(self): ...

fires every HOLD_SWEEP_SECONDS if the config sets it, else every 30 s: the test
stacks sweep more often than the product, and wait less for what a sweep ends."""
from nameko.timer import Timer


class ConfiguredTimer(Timer):
    def __init__(self, setting, interval, **kwargs):
        super().__init__(interval, **kwargs)
        self.setting = setting

    def setup(self):
        self.interval = float(self.container.config.get(self.setting) or self.interval)


configured_timer = ConfiguredTimer.decorator
