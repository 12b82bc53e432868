"""Scenarios for ``ui_driver``: each is a generator over a ``Driver`` that scans by
typing key events, taps buttons by dispatching ``on_release``, waits on what the
screen shows, records what it saw and takes screenshots."""

from __future__ import annotations

from typing import Any

from tests.handheld_app.ui_driver import Driver, Step, until


def _screen(d: Driver, name: str) -> Any:
    return d.app.sm.get_screen(name)


def _bar(d: Driver) -> Any:
    return d.app.root.ids.status_bar


def _tap(button: Any) -> None:
    button.dispatch("on_press")
    button.dispatch("on_release")


def scenario_signin(d: Driver) -> Step:
    """A location scan is refused on the badge prompt; the badge signs in."""
    yield until(lambda: d.app.sm.current == "signin", "the sign-in screen")
    yield 0.1
    d.shot("01_signin")
    signin = _screen(d, "signin")
    d.type_code("LOC-A01-01-1")
    yield until(lambda: "not a badge" in signin.ids.message.text, "the badge refusal")
    yield 0.1
    d.record("signin_refused", True, message=signin.ids.message.text)
    d.shot("02_signin_refused")
    d.type_code("OP-0007")
    yield until(lambda: d.app.sm.current == "tasks", "the task list")
    tasks = _screen(d, "tasks")
    yield until(lambda: len(tasks.ids.task_list.children) > 0, "task rows", timeout=20)
    yield 0.2
    d.record(
        "signin",
        d.app.session is not None and d.app.session.operator == "0007",
        screen=d.app.sm.current,
        title=tasks.title,
        rows=len(tasks.ids.task_list.children),
    )
    d.shot("03_tasks")


def scenario_reasons(d: Driver) -> Step:
    """'Why?' on the first row shows its priority reasons."""
    tasks = _screen(d, "tasks")
    first = tasks.ids.task_list.children[-1]
    _tap(first.children[0])  # the Why? button (BoxLayout children are reversed)
    yield until(lambda: bool(tasks.reasons), "the reasons panel")
    yield 0.1
    d.record("reasons", True, text=tasks.ids.reasons.text)
    d.shot("04_reasons")
    _tap(first.children[0])


def scenario_wait_online(d: Driver) -> Step:
    """The status bar says ONLINE once a sync round reached central."""
    yield until(lambda: _bar(d).online, "the ONLINE status", timeout=30)
    d.record("online", True, text=_bar(d).text)


def scenario_central_down(d: Driver) -> Step:
    """Central stops: the bar turns OFFLINE."""
    yield from d.need("stop_central")
    yield until(lambda: not _bar(d).online, "the OFFLINE status", timeout=30)
    yield 0.2
    d.record("offline", "OFFLINE" in _bar(d).text, text=_bar(d).text)
    d.shot("07_offline")


def _expected_gtin(d: Driver, sku: str) -> str:
    row = d.app.store.sku(sku) or {}
    return str(row.get("gtin") or "")


def _other_gtin(d: Driver, sku: str) -> str:
    for row in d.app.store.all("sku"):
        if row.get("sku") != sku and row.get("gtin"):
            return str(row["gtin"])
    return ""


def scenario_pick(d: Driver) -> Step:
    """Open the most urgent task by tapping its row and pick it by wedge scans; a wrong
    item on the way is refused on screen."""
    tasks = _screen(d, "tasks")
    pick = _screen(d, "pick")
    first = tasks.ids.task_list.children[-1]
    level = first.level
    _tap(first.children[-1])
    yield until(lambda: d.app.sm.current == "pick", "the pick screen")
    yield 0.1
    d.record("pick_opened", level in ("P1", "P2"), level=level, header=pick.header)
    d.shot("05_pick_location")
    d.type_code(f"LOC-{pick.location}")
    yield until(lambda: pick.step == "item", "the item step")
    wrong = _other_gtin(d, pick.sku)
    d.type_code(wrong)
    yield until(lambda: "Wrong item" in pick.ids.message.text, "the wrong-item refusal")
    yield 0.1
    d.record(
        "wrong_item",
        not pick.message_ok and pick.step == "item",
        message=pick.ids.message.text,
        sku=pick.sku,
    )
    d.shot("06_wrong_item")
    first_item = True
    for _ in range(40):  # bounded: a task has a handful of lines
        if d.app.sm.current != "pick":
            break
        step = pick.step
        if step == "location":
            d.type_code(f"LOC-{pick.location}")
        elif step == "item":
            gtin = _expected_gtin(d, pick.sku)
            stock = d.app.store.get("stock", f"{d.app.store.site}/{pick.location}/{pick.sku}")
            lots = [lot for lot in (stock or {}).get("lots") or [] if lot.get("lot")]
            lot = lots[0]["lot"] if lots else "LOTUI"
            code = f"(01){gtin.zfill(14)}(17)271231(10){lot}" if first_item else gtin
            first_item = False
            d.type_code(code)
        elif step == "qty":
            d.shot("08_pick_qty")
            _tap(pick.ids.confirm)
        elif step == "tote":
            d.shot("09_pick_tote")
            d.type_code("TOTE-0042")
        yield 0.05
    yield until(lambda: d.app.sm.current == "tasks", "the list after the task")
    yield 0.1
    kinds = [op.kind for op in d.app.store.outbox_history()]
    d.record(
        "picked",
        kinds.count("tote.assigned") == 1 and "pick.confirmed" in kinds,
        kinds=kinds,
        message=_screen(d, "tasks").ids.message.text,
        pending=d.app.store.pending_count(),
        bar=_bar(d).text,
    )
    d.shot("10_task_done")


def scenario_central_back(d: Driver) -> Step:
    """Central is back: the pending count falls to 0 and the bar says ONLINE."""
    before = d.app.store.pending_count()
    yield from d.need("start_central")
    yield until(
        lambda: (
            _bar(d).online and d.app.store.pending_count() == 0 and " 0 to send" in _bar(d).text
        ),
        "the outbox to drain",
        timeout=60,
    )
    yield 0.2
    d.record("drained", before > 0, before=before, text=_bar(d).text)
    d.shot("11_back_online")


def scenario_banner(d: Driver) -> Step:
    """A hot pick pushed over MQTT raises the banner; a tap on it opens the task."""
    yield from d.need("push_task")
    banner = d.app.root.ids.banner
    yield until(lambda: bool(banner.text), "the hot-pick banner", timeout=15)
    yield 0.1
    d.record("banner", "HOT PICK" in banner.text, text=banner.text, level=banner.level)
    d.shot("04b_banner")
    _tap(banner)
    yield until(lambda: d.app.sm.current == "pick", "the pushed task opened")
    d.record("banner_opened", not banner.text, header=_screen(d, "pick").header)
    d.app.go("tasks")
    yield until(lambda: d.app.sm.current == "tasks", "back to the list")


def scenario_stock(d: Driver) -> Step:
    """Stock lookup: one tap from the list, scan an item, bins from the cache; then a bin
    count with the buttons and one typed, a move to another bin and a receipt."""
    d.app.go("stock")
    stock = _screen(d, "stock")
    yield until(lambda: d.app.sm.current == "stock", "the stock screen")
    sku = next(row for row in d.app.store.all("sku") if row.get("gtin"))
    d.type_code(str(sku["gtin"]))
    yield until(lambda: stock.sku == sku["sku"], "the stock of the scanned item")
    yield 0.1
    d.record("stock", bool(stock.lines), sku=stock.sku, lines=stock.lines, as_of=stock.as_of)
    d.shot("12_stock")
    # A bin count: an item, then a bin of it with no unsynced moves of this device.
    store = d.app.store
    free = [
        r
        for r in store.all("stock")
        if not store.unsettled("stock", f"{r['warehouse']}/{r['location']}/{r['sku']}")
    ]
    row, second = free[0], free[1]

    def choose(r: dict[str, Any]) -> Step:
        d.type_code(str((store.sku(r["sku"]) or {})["gtin"]))
        yield until(lambda: stock.sku == r["sku"], "the stock of the item to count")
        d.type_code(f"LOC-{r['location']}")
        yield until(lambda: stock.counting == r["location"], "the bin chosen for counting")

    yield from choose(row)
    yield 0.1
    d.shot("12a_stock_count")
    d.record("count_chosen", stock.qty == row["on_hand"], qty=stock.qty, message=stock.message)
    _tap(next(w for w in stock.walk() if getattr(w, "text", "") == "+"))
    save = stock.ids.save_count
    d.record("count_button", save.text == f"Count {row['on_hand'] + 1}", text=save.text)
    _tap(save)
    yield until(lambda: stock.message.startswith("Counted"), "the count saved")
    yield 0.1
    d.shot("12b_stock_counted")
    d.record("counted", stock.message_ok, message=stock.message, lines=stock.lines)
    # A recount of that bin waits for the sync that brings the first count back.
    d.type_code(f"LOC-{row['location']}")
    yield until(lambda: stock.counting == row["location"], "the bin chosen again")
    d.type_code("3")
    yield until(lambda: not stock.message_ok, "the recount refused")
    d.record("recount_refused", "not synced yet" in stock.message, message=stock.message)
    # Another bin, its units typed (a keypad or a wedge keyboard).
    yield from choose(second)
    d.type_code("3")
    yield until(lambda: not stock.counting, "the typed count saved")
    counts = [op.data["counted"] for op in store.pending() if op.kind == "stock.counted"]
    d.record("typed_count", counts == [row["on_hand"] + 1, 3], counts=counts, msg=stock.message)
    # A move: all but one of a bin's free units to another bin of the site.
    source = next(
        r
        for r in store.all("stock")
        if r not in (row, second)
        and int(r.get("available") or 0) >= 2
        and len([lot for lot in r.get("lots") or [] if lot.get("lot")]) <= 1
    )
    target = next(
        str(loc["code"])
        for loc in store.all("location")
        if loc.get("warehouse") == store.site and loc["code"] != source["location"]
    )
    yield from choose(source)
    _tap(stock.ids.move)
    yield until(lambda: stock.moving, "the move started")
    free = d.app.session.stock.current.available_in(source["location"])
    d.record("move_started", stock.qty == free >= 2, qty=stock.qty, free=free)
    d.type_code(f"LOC-{target}")
    yield until(lambda: stock.target == target, "the bin to put it in")
    _tap(next(w for w in stock.walk() if getattr(w, "text", "") == "-"))
    yield 0.1
    d.shot("12c_stock_move")
    d.record(
        "move_button",
        stock.ids.save_count.text == f"Move {free - 1}",
        text=stock.ids.save_count.text,
    )
    _tap(stock.ids.save_count)
    yield until(lambda: stock.message.startswith("Moved"), "the move saved")
    moved = [op.data for op in store.pending() if op.kind == "stock.moved"]
    d.record(
        "moved",
        [(m["from_location"], m["to_location"], m["qty"]) for m in moved]
        == [(source["location"], target, free - 1)],
        moved=moved,
        message=stock.message,
    )
    # A receipt: units put into a bin, the counter set with the buttons.
    yield from choose(source)
    _tap(stock.ids.receive)
    yield until(lambda: stock.receiving, "the receipt started")
    for _ in range(2):
        _tap(next(w for w in stock.walk() if getattr(w, "text", "") == "+"))
    yield 0.1
    d.shot("12d_stock_receive")
    d.record(
        "receive_button", stock.ids.save_count.text == "Receive 3", text=stock.ids.save_count.text
    )
    _tap(stock.ids.save_count)
    yield until(lambda: stock.message.startswith("Received"), "the receipt saved")
    got = [op.data for op in store.pending() if op.kind == "stock.adjusted"]
    d.record(
        "received",
        [(g["location"], g["delta"], g["reason"]) for g in got]
        == [(source["location"], 3, "received")],
        received=got,
        message=stock.message,
    )
    # A write-off: 2 damaged units taken out of the bin, the counter set with the buttons.
    yield from choose(source)
    _tap(stock.ids.damaged)
    yield until(lambda: stock.mode == "damaged", "the write-off started")
    _tap(next(w for w in stock.walk() if getattr(w, "text", "") == "+"))
    yield 0.1
    d.shot("12e_stock_damaged")
    d.record(
        "damaged_button",
        stock.ids.save_count.text == "Write off 2",
        text=stock.ids.save_count.text,
    )
    _tap(stock.ids.save_count)
    yield until(lambda: stock.message.startswith("Wrote off"), "the write-off saved")
    written = [
        op.data
        for op in store.pending()
        if op.kind == "stock.adjusted" and op.data["reason"] == "damaged"
    ]
    d.record(
        "written_off",
        [(w["location"], w["delta"]) for w in written] == [(source["location"], -2)],
        written=written,
        message=stock.message,
    )
    d.type_code("TOTE-12")
    yield until(lambda: not stock.message_ok, "the refusal of a non-item")
    d.record("stock_refused", True, message=stock.ids.message.text)
    _tap(next(w for w in stock.walk() if getattr(w, "text", "") == "Back"))
    yield until(lambda: d.app.sm.current == "tasks", "back to the list")


def scenario_settings(d: Driver) -> Step:
    """Sign out, open settings, a bad central URL is refused and nothing is saved."""
    d.app.sign_out()
    yield until(lambda: d.app.sm.current == "signin", "the sign-in screen")
    d.app.go("settings")
    settings = _screen(d, "settings")
    before = d.app.settings.path.read_text()
    settings.ids.central_url.text = "ftp://nowhere"
    settings.save()
    yield 0.1
    d.record(
        "settings_refused",
        not settings.message_ok and d.app.settings.path.read_text() == before,
        message=settings.ids.message.text,
        scanner=settings.ids.scanner.text,
    )
    d.shot("13_settings")


def scenario_serial(d: Driver) -> Step:
    """Switch the scanner to a serial port on the settings screen; a badge scanned on
    that port signs in (reader thread -> UI thread)."""
    yield from d.need("serial_path")
    device = d.app.settings.device
    ok, message = d.app.save_settings(device.central_url, device.token, f"serial://{d.answer}")
    d.app.go("signin")
    yield from d.need("serial_badge")
    yield until(
        lambda: d.app.session is not None and d.app.session.operator == "0009",
        "the badge scanned on the serial port",
    )
    yield 0.1
    d.record("serial_badge", ok, message=message, screen=d.app.sm.current)
    d.shot("14_serial_signin")


def scenario_handover(d: Driver) -> Step:
    """Sign out halfway through a task: the units picked so far go into a tote first
    (the pick screen asks for it), then the handheld signs out."""
    tasks = _screen(d, "tasks")
    pick = _screen(d, "pick")
    yield until(lambda: len(tasks.ids.task_list.children) > 0, "task rows", timeout=20)
    _tap(tasks.ids.task_list.children[-1].children[-1])
    yield until(lambda: d.app.sm.current == "pick", "the pick screen")
    before = len(d.app.store.outbox_history())
    for _ in range(10):  # bounded: one unit is enough
        if any(op.kind == "pick.confirmed" for op in d.app.store.outbox_history()[before:]):
            break
        if pick.step == "location":
            d.type_code(f"LOC-{pick.location}")
        elif pick.step == "item":
            d.type_code(_expected_gtin(d, pick.sku))
        elif pick.step == "qty":
            _tap(pick.ids.confirm)
        yield 0.05
    order_id = d.app.session.flow.orders_without_tote()[0] if d.app.session else ""
    d.app.go("tasks")
    yield 0.05
    _tap(tasks.ids.sign_out)
    yield until(lambda: "Before signing out" in pick.ids.message.text, "the hand-over prompt")
    yield 0.1
    d.record(
        "handover_asked",
        d.app.sm.current == "pick" and d.app.session is not None and pick.step == "tote",
        message=pick.ids.message.text,
        order_id=order_id,
    )
    d.shot("15_handover")
    d.type_code("TOTE-0077")
    yield until(lambda: d.app.sm.current == "signin", "signed out after the tote")
    ops = d.app.store.outbox_history()[before:]
    d.record(
        "handed_over",
        d.app.session is None,
        kinds=[op.kind for op in ops],
        tote=[op.data for op in ops if op.kind == "tote.assigned"],
    )


def scenario_ergonomics(d: Driver) -> Step:
    """Gloves and arm's length: every button >= 64 dp tall, every text >= 20 sp, the
    bin and the item >= 32 sp, on every screen."""
    from kivy.metrics import dp, sp
    from kivy.uix.button import Button
    from kivy.uix.label import Label

    small_buttons: list[str] = []
    small_text: list[str] = []
    for screen in d.app.sm.screens:
        for widget in screen.walk():
            name = f"{screen.name}:{getattr(widget, 'text', '')[:20]!r}"
            if isinstance(widget, Button) and widget.height < dp(64):
                small_buttons.append(f"{name} {widget.height:.0f}px")
            if isinstance(widget, Label) and widget.font_size < sp(20):
                small_text.append(f"{name} {widget.font_size:.0f}px")
    pick = _screen(d, "pick")
    big = min(pick.ids.location.font_size, pick.ids.sku.font_size)
    d.record(
        "ergonomics",
        not small_buttons and not small_text and big >= sp(32),
        small_buttons=small_buttons,
        small_text=small_text,
        big=big,
    )
    yield 0
