"""Demo plugin beta: greets with greeting 2.x from its own site-packages."""

import greeting
import hostapi

assert greeting.__version__.startswith("2."), greeting.__version__


class BetaPlugin(hostapi.Plugin):
    name = "beta"

    def greet(self, who):
        return greeting.hello(who)


plugin = hostapi.register(BetaPlugin())
