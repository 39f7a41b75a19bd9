"""Device adapters: receipt printer, ID-card reader, payment terminal, cash, scanner.

Core code: nothing here imports Kivy. One contract for every device (`devices.contract`):
state with a stable reason code, the action it calls for and a message (a Spanish msgid the kiosk translates);
capabilities; supplies; `self_test()`; events. All device I/O runs on each adapter's worker
thread with a deadline on every call, and `devices.supervisor.Supervisor` reopens devices that
fail or are unplugged, counting reconnects.

Events and asynchronous results reach the app through an injected scheduler,
`call_soon: Callable[[Callable[[], None]], None]`, given to every adapter (and so used by the
supervisor's adapters). The Kivy app passes one built on the clock, so callbacks run on the UI
thread::

    call_soon = lambda fn: Clock.schedule_once(lambda _dt: fn(), 0)
    adapters = devices.registry.create_adapters(config.devices, call_soon)

Tests pass a thread-safe queue-based one and pump it on the test thread. Configuration is one
`[devices.<name>]` table per device with `driver` and `url` (`sim://` for the simulated twin);
see docs/devices.md.
"""
