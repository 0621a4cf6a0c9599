"""Demo plugin alpha: greets with greeting 1.x from its own site-packages."""

import greeting
import hostapi

assert greeting.__version__.startswith("1."), greeting.__version__


class AlphaPlugin(hostapi.Plugin):
    name = "alpha"

    def greet(self, who):
        return greeting.hello(who)


plugin = hostapi.register(AlphaPlugin())
