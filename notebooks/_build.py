"""Regenerate the demo notebooks from the cell sources below (outputs stripped).

    python notebooks/_build.py            # rewrite notebooks/0*.ipynb
    python notebooks/_build.py --check    # exit 1 if a committed notebook differs from this script

Edit the cells here rather than in Jupyter, so the notebooks stay reviewable and stripped; or edit
in Jupyter, clear the outputs, and copy the change back here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent


def md(text: str) -> nbformat.NotebookNode:
    return new_markdown_cell(text.strip("\n"))


def code(text: str) -> nbformat.NotebookNode:
    return new_code_cell(text.strip("\n"))


# ------------------------------------------------------------------ shared cells

CONNECT = code("""
import targetsms_analytics as ts

client = ts.connect()
ON_EMULATOR = ts.emulator_of(client) is not None
if ON_EMULATOR:
    print("Using the built-in TargetSMS emulator: no real SMS are sent, no money is spent.")
else:
    print(f"Using the REAL TargetSMS service as {client.user!r}: real SMS, real money.")
""")

CONNECT_MD = md("""
## Connect

`ts.connect()` uses the real service when `TARGETSMS_USER` and `TARGETSMS_PASSWORD` are set (in the
environment or a `.env` file), and otherwise starts a built-in **emulator** of TargetSMS on this
computer, with time sped up about 100× so that statuses arrive in seconds.
""")

STORE = code("""
import tempfile
from pathlib import Path

# The journal remembers every campaign, SMS id and status. The emulator starts from a fresh account
# every time, so it gets a fresh journal in a temporary folder; the real service uses your own one.
store = Path(tempfile.mkdtemp(prefix="targetsms-demo-")) / "journal.sqlite3" if ON_EMULATOR else None
print("Journal:", store or "your default journal")
""")

PLOTS_SETUP = code("""
%matplotlib inline
import pandas as pd

pd.set_option("display.width", 120)
""")

SETTINGS_CAMPAIGN = code("""
import os

# On the real service: your approved sender name, and YOUR contact list (a CSV with a `phone`
# column). The demo list holds made-up numbers that may belong to real people: never send to it.
from targetsms_analytics.demo import DEMO_CONTACTS  # shipped with the package
CONTACTS = os.environ.get("TARGETSMS_CONTACTS", DEMO_CONTACTS)
SENDER = os.environ.get("TARGETSMS_SENDER", "SHOP")
CAMPAIGN = os.environ.get("TARGETSMS_CAMPAIGN", "demo-discount-15")
TEXT = "Здравствуйте, {name}! Скидка 15% для вас до конца недели."

if not ON_EMULATOR and CONTACTS == DEMO_CONTACTS:
    raise RuntimeError("Real service: set TARGETSMS_CONTACTS (or CONTACTS) to your own list first.")
""")

LOAD_CONTACTS = code("""
contacts = pd.read_csv(CONTACTS, dtype=str)  # dtype=str: phone numbers stay text, not floats
# Tidy the names: "АННА " and "анна" become "Анна"; a blank name becomes "друзья".
contacts["name"] = contacts["name"].str.strip().str.capitalize().fillna("друзья")
""")


# ------------------------------------------------------------------ 01 quickstart


def quickstart() -> nbformat.NotebookNode:
    cells = [
        md("""
# 1. Quick start: one SMS, from balance to delivery

This notebook connects to TargetSMS, shows the account balance, sends **one** SMS and follows it
until the operator reports its final status.

Run it top to bottom (*Run → Run All Cells*). Without credentials everything happens on a built-in
emulator, so it is safe to experiment.
"""),
        CONNECT_MD,
        CONNECT,
        code("""
import os

import pandas as pd

# Who sends, and to whom. On the real service use a sender name approved on your account and
# YOUR OWN number (or set TARGETSMS_SENDER / TARGETSMS_TEST_PHONE before starting Jupyter).
DEMO_PHONE = "+7 916 123-45-67"
SENDER = os.environ.get("TARGETSMS_SENDER", "SHOP")
MY_PHONE = os.environ.get("TARGETSMS_TEST_PHONE", DEMO_PHONE)

if not ON_EMULATOR and MY_PHONE == DEMO_PHONE:
    raise RuntimeError("Real service: put your own number in MY_PHONE (or TARGETSMS_TEST_PHONE) first.")
"""),
        STORE,
        md("""
## Balance

The balance is money (in roubles) plus **packages**: SMS already paid for, per direction — a country
(«Россия») or an operator («МТС», «Мегафон», «BeeLine», «Tele2»…). An SMS is paid from its
operator's package first, then from the country's, and only then from money.
"""),
        code("""
from targetsms_analytics.analytics import packages_frame

balance = client.balance()
print(f"Money: {balance.amount:,.2f} {balance.currency}")
packages_frame(balance)  # SMS left per direction, largest first
"""),
        md("""
## Send one SMS

The API wants numbers as `79161234567` (country code, no `+`). `ts.normalize_phone` turns whatever
people type (`+7 (916) 123-45-67`, `8 916 123 45 67`…) into that form, and gives `None` for
something that is not a phone number. `client.send` returns one SMS id per number.
"""),
        code("""
phone = ts.normalize_phone(MY_PHONE)
print(f"{MY_PHONE!r} -> {phone!r}")

text = "Здравствуйте! Это тестовое SMS из targetsms-analytics."
print(f"{len(text)} characters, {ts.count_parts(text)} SMS part(s)")

ids = client.send(SENDER, phone, text)
sms_id = ids[0]
print("SMS id:", sms_id)
"""),
        md("""
## Its status

Right after sending, the state is usually `send`: sent, no report from the operator yet. The
*detailed* status adds when the state last changed, how many parts the SMS had and the price of one
part, so `cost = num_parts × price`.

Note: the service refuses the same request twice within a minute; the client waits for you
(on the emulator that interval is 2 seconds).
"""),
        code("""
print("State now:", client.status(sms_id))

detail = client.status_detail(sms_id)
pd.DataFrame([{
    "sms_id": detail.sms_id,
    "state": detail.state,
    "changed_at": detail.changed_at,
    "num_parts": detail.num_parts,
    "price": detail.price,
    "cost": detail.cost,
}])
"""),
        md("""
## Wait until it is final

`ts.wait_for_final` asks again, at the pace the service allows, until every SMS has a **final**
state, and stores what it learns in the journal:

| state | meaning |
|---|---|
| `deliver` | delivered |
| `not_deliver` | not delivered |
| `expired` | the phone was off or out of reach during every attempt |
| `partly_deliver` | sent, but the operator never reported back |

On the real service this can take from seconds to hours; the emulator needs about two seconds.
"""),
        code("""
statuses = ts.wait_for_final(client, [sms_id], store=store, timeout=60 if ON_EMULATOR else 900)
statuses[["sms_id", "state", "is_final", "changed_at", "num_parts", "price", "cost"]]
"""),
        md("""
**Next:** `02_send_campaign.ipynb` sends a personalised campaign to a whole contact list.
"""),
    ]
    return _notebook(cells)


# ------------------------------------------------------------------ 02 campaign


def send_campaign() -> nbformat.NotebookNode:
    cells = [
        md("""
# 2. Send a campaign from a contact list

A CRM export is never clean: the same number typed five ways, people entered twice, blanks, a
landline, a foreign number. This notebook loads such a file, **estimates** the campaign (who gets
an SMS, how many SMS parts, roughly how much it costs) without sending anything, then **sends** a
personalised text, and shows that running it again sends nothing twice.
"""),
        CONNECT_MD,
        CONNECT,
        PLOTS_SETUP,
        STORE,
        md("""
## Settings

`TEXT` is a template: `{name}` is replaced by each row's `name` column (any column works:
`{city}`, `{segment}`…). `CAMPAIGN` names the campaign in the journal; it is what makes re-running
safe.
"""),
        SETTINGS_CAMPAIGN,
        md("""
## The contact list

The demo list (`DEMO_CONTACTS`, shipped with the package) is a synthetic export of 300 rows: `name`, `phone`, `city`, `segment`.
"""),
        code("""
raw = pd.read_csv(CONTACTS, dtype=str)  # dtype=str: phone numbers stay text, not floats
print(len(raw), "rows")
raw.sample(12, random_state=1)
"""),
        md("""
## Estimate first

`ts.estimate_campaign` does everything a send would do — reads every number, fills in the template,
counts SMS parts, packs recipients into requests — but sends nothing. Rows come back with an
`outcome`: `ready`, `invalid` (with the reason in `error_code`) or `duplicate`.
"""),
        code("""
estimate = ts.estimate_campaign(raw, TEXT)
pd.Series(estimate.attrs["summary"], name="estimate", dtype=object).to_frame()
"""),
        md("""
Why rows would **not** get an SMS. `template_value_missing` means a blank `name`: the template has
nothing to put in `{name}`.
"""),
        code("""
skipped = estimate[estimate["outcome"] != "ready"]
print(skipped.groupby(["outcome", "error_code"]).size().to_string(), end="\\n\\n")
skipped[["name", "phone", "msisdn", "outcome", "error_code", "error_text"]].sort_values("outcome")
"""),
        md("""
The duplicates are the same people typed differently — each gets **one** SMS, at the first row
where they appear:
"""),
        code("""
first = estimate.drop_duplicates("msisdn").set_index("msisdn")["phone"].rename("first typed as")
dups = estimate[estimate["outcome"] == "duplicate"][["name", "phone", "msisdn"]]
dups.join(first, on="msisdn").head(8)
"""),
        md("""
Fix the names (trim, capitalise, and greet the nameless rows as «друзья») and estimate again. With
the client and sender given, the request count is exact. The cost assumes a price per part; SMS
paid from packages cost nothing extra.
"""),
        LOAD_CONTACTS,
        code("""
estimate = ts.estimate_campaign(contacts, TEXT, sender=SENDER, client=client)
summary = pd.Series(estimate.attrs["summary"], name="estimate", dtype=object)
print(f"First text: {estimate.loc[estimate['outcome'] == 'ready', 'text'].iloc[0]!r}")
summary.to_frame()
"""),
        md("""
## Send

`ts.send_campaign` sends each distinct text to its recipients in as few requests as the URL length
limit allows, several requests at a time. Before each request it writes its intent to the journal,
and the answer right after, so even a crash or a lost connection never sends anyone a second SMS.
A request refused because of one bad number (stop list, closed direction) is split until that
number stands alone: everyone else still gets the SMS.
"""),
        code("""
balance_before = client.balance()
result = ts.send_campaign(client, contacts, TEXT, SENDER, campaign=CAMPAIGN, store=store)
result.attrs["summary"]
"""),
        md("""
One row per contact, in the same order as the file, with the SMS id and the outcome:

| outcome | meaning |
|---|---|
| `sent` | the service accepted it and gave an SMS id |
| `queued` | not enough money: the service sends it after a top-up |
| `invalid` | never sent: not a mobile number, or no value for the template |
| `duplicate` | the same person is already in an earlier row |
| `rejected` | the service refused this number (`error_code` says why) |
| `unknown` | the answer was lost: check before sending again |
"""),
        code("""
columns = ["name", "phone", "msisdn", "text", "parts", "sms_id", "outcome", "error_code"]
result[columns].head(10)
"""),
        code("""
result["outcome"].value_counts().rename("rows").to_frame()
"""),
        md("""
The numbers the service refused, and why:
"""),
        code("""
result.loc[result["outcome"] == "rejected", ["name", "phone", "msisdn", "error_code", "error_text"]]
"""),
        code("""
balance_after = client.balance()
print(f"Money: {balance_before.amount:,.2f} -> {balance_after.amount:,.2f} {balance_after.currency}")
"""),
        md("""
## Run it again: nothing is sent twice

Calling `send_campaign` again with the same `CAMPAIGN` returns what the journal recorded and sends
only to rows that have no record yet — here, nobody. This is how you resume after a crash, and why
re-running a cell by accident is harmless. To send the same text again on purpose, use a new
campaign name.
"""),
        code("""
again = ts.send_campaign(client, contacts, TEXT, SENDER, campaign=CAMPAIGN, store=store)
same_ids = again["sms_id"].fillna("").equals(result["sms_id"].fillna(""))
print("requests made this time:", again.attrs["summary"]["requests"])
print("same SMS ids as the first run:", same_ids)
print(f"Money now: {client.balance().amount:,.2f} {balance_after.currency}")
"""),
        md("""
## Send windows: daytime where each recipient lives

`window=("09:00", "21:00")` sends a recipient only while it is 09:00–21:00 **in their time zone**
(from the Russian numbering plan; unknown numbers count as Moscow). The others come back
`scheduled`, with `not_before` saying when their window opens; a later call sends them, nobody
twice. To make this demo the same at any hour, it runs on a **simulated clock** that starts at
08:00 in Moscow (05:00 UTC): Vladivostok (15:00) is open, Moscow not yet. A real run just leaves
`clock` out.
"""),
        code("""
from datetime import datetime, timedelta, timezone

WINDOW = ("09:00", "21:00")


class SimulatedClock:
    \"\"\"Now, as a tz-aware time that moves only when the campaign "sleeps".\"\"\"

    def __init__(self, start):
        self.now = start

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += timedelta(seconds=seconds)


clock = SimulatedClock(datetime(2026, 12, 1, 5, 0, tzinfo=timezone.utc))  # 08:00 in Moscow
zones = ts.lookup_numbers(estimate["msisdn"].dropna())["time_zone"].fillna("unknown (Moscow)")
zones.value_counts().rename("recipients").to_frame().head(8)
"""),
        code("""
planned = ts.estimate_campaign(contacts, TEXT, sender=SENDER, client=client, window=WINDOW, clock=clock)
print({k: planned.attrs["summary"][k] for k in ("recipients", "sendable_now", "scheduled")})
planned.attrs["schedule"]  # when the others become sendable (UTC)
"""),
        md("""
Send with the window (on the emulator only: on the real service this would be a second campaign to
the same people). Those outside their window are journaled as `scheduled`:
"""),
        code("""
if ON_EMULATOR:
    ts.emulator_of(client).top_up("demo", 2000)  # play money for the two extra demo campaigns
    windowed = ts.send_campaign(client, contacts, TEXT, SENDER, campaign=CAMPAIGN + "-window",
                                store=store, window=WINDOW, clock=clock)
    print(windowed["outcome"].value_counts().to_dict())
    display(windowed.loc[windowed["outcome"] == "scheduled", ["name", "msisdn", "not_before"]].head())
"""),
        md("""
`wait=True` keeps the call running until everyone's window has opened (or `until=` passes); a real
run sleeps, with a progress bar of who waits for which hour, and Ctrl-C is safe. Here the simulated
clock jumps forward instead of sleeping:
"""),
        code("""
if ON_EMULATOR:
    windowed = ts.send_campaign(client, contacts, TEXT, SENDER, campaign=CAMPAIGN + "-window",
                                store=store, window=WINDOW, wait=True, clock=clock,
                                sleep=clock.sleep)
    print("simulated time now:", clock.now.isoformat())
    print(windowed["outcome"].value_counts().to_dict())
"""),
        md("""
## A/B test with a control group

Give a dict of texts: each recipient gets variant `A` or `B`, and with `holdout=0.1` one in ten
gets nothing at all (outcome `holdout`), so you can measure what the SMS changed. The split is a
hash of `seed`, the campaign and the number: the same on every call, in every process. The
estimate shows recipients, parts and cost per variant; `max_per_minute` caps the pace.
"""),
        code("""
VARIANTS = {
    "A": "Здравствуйте, {name}! Дарим вам скидку 15% до конца недели.",
    "B": "{name}, только до воскресенья: скидка 15% на всё в магазине SHOP.",
}
ab_plan = ts.estimate_campaign(contacts, VARIANTS, sender=SENDER, client=client,
                               campaign=CAMPAIGN + "-ab", holdout=0.1, seed=7)
ab_plan.attrs["variants"]
"""),
        code("""
if ON_EMULATOR:
    ab = ts.send_campaign(client, contacts, VARIANTS, SENDER, campaign=CAMPAIGN + "-ab",
                          store=store, holdout=0.1, seed=7, max_per_minute=3000)
    statuses = ts.fetch_statuses(client, ab, store=store)
    display(pd.crosstab(ab["variant"], ab["outcome"]))
    display(ts.delivery_report(statuses, by="variant"))
"""),
        md("""
**Next:** `03_delivery_and_cost.ipynb` follows these SMS to delivery and reports on cost.
"""),
    ]
    return _notebook(cells)


# ------------------------------------------------------------------ 03 delivery and cost


def delivery_and_cost() -> nbformat.NotebookNode:
    cells = [
        md("""
# 3. Delivery and cost

Which share of a campaign was delivered, per operator and per day, what it cost, what one
*delivered* SMS cost, and how fast the reports came back.

On the emulator this notebook first sends the demo campaign of notebook 2. On the real service it
sends nothing: it reports on the campaign named `CAMPAIGN` in your journal.
"""),
        CONNECT_MD,
        CONNECT,
        PLOTS_SETUP,
        STORE,
        SETTINGS_CAMPAIGN,
        code("""
if ON_EMULATOR:
    # The emulator starts empty: send the demo campaign first (notebook 2 explains this step).
    contacts = pd.read_csv(CONTACTS, dtype=str)
    contacts["name"] = contacts["name"].str.strip().str.capitalize().fillna("друзья")
    sent = ts.send_campaign(client, contacts, TEXT, SENDER, campaign=CAMPAIGN, store=store)
    print(sent.attrs["summary"])
else:
    print(f"Reporting on campaign {CAMPAIGN!r} from your journal; nothing is sent.")
"""),
        md("""
## Fetch the statuses

`ts.fetch_statuses` takes a campaign name (or a list of SMS ids, or `send_campaign`'s result) and
returns one row per SMS: its state, when it changed, parts, price and cost. States that are already
final come from the journal without asking the service again. Right after sending, most SMS are
still `send` (no report yet):
"""),
        code("""
statuses = ts.fetch_statuses(client, CAMPAIGN, store=store)
statuses["state"].value_counts().rename("SMS").to_frame()
"""),
        md("""
`ts.wait_for_final` repeats that, at the pace the service allows, until every SMS is final (or the
timeout passes: then the rest stay `send` and you can run the cell again later).
"""),
        code("""
statuses = ts.wait_for_final(client, CAMPAIGN, store=store, timeout=60 if ON_EMULATOR else 900)
print(statuses["state"].value_counts().to_string())
statuses.head()
"""),
        md("""
## Delivery report

`ts.delivery_report` sums a status frame up: SMS, one column per state, `delivery_rate`
(delivered ÷ final) with its 95 % interval (`delivery_rate_low`, `delivery_rate_high`: with 300
SMS a rate is only known to a few points), parts, cost, cost per delivered SMS (over final SMS), and
the median, 90th and 99th percentile time from sending to the final report, in seconds.
`display_frame` shows a report the way the HTML report does: rounded, rates in %, money in ₽.
"""),
        code("""
from targetsms_analytics.reports import display_frame

display_frame(ts.delivery_report(statuses)).T.rename(columns={0: "campaign"})
"""),
        md("""
**By operator.** The operator comes from the numbering plan (the range the number belongs to).
With number portability a subscriber may have moved since; numbers outside the plan show as
`unknown`.
"""),
        code("""
by_operator = ts.delivery_report(statuses, by="operator")
display_frame(by_operator[["operator", "messages", "deliver", "not_deliver", "expired",
                           "delivery_rate", "delivery_rate_low", "delivery_rate_high", "cost",
                           "cost_per_delivered", "latency_p50_s"]])
"""),
        md("""
**By day** (Moscow time, as the service counts), by **region**, or by the **local hour** of sending
in the recipient's time zone (a message sent at noon in Moscow arrives at 19:00 in Vladivostok):
"""),
        code("""
by_date = ts.delivery_report(statuses, by="date")
display_frame(by_date[["date", "messages", "deliver", "delivery_rate", "parts", "cost",
                       "cost_per_delivered"]])
"""),
        code("""
by_region = ts.delivery_report(statuses, by="region").nlargest(10, "messages")
display_frame(by_region[["region", "messages", "delivery_rate", "delivery_rate_low",
                         "delivery_rate_high", "cost"]])
"""),
        md("""
## Where messages fail

`ts.failure_report` counts the failures per group — not delivered, expired, partly delivered, and
statuses that could not be fetched — with the failure rate and what the failed SMS cost, the
costliest group first.
"""),
        code("""
failures = ts.failure_report(statuses, by="operator")
display_frame(failures)
"""),
        md("""
## Compare: a real difference, or noise?

Two texts, two campaigns: is the second one delivered better? `ts.compare` puts each group against
a baseline (the first group, or `baseline=`): the difference in percentage points, its 95 %
interval and the p-value of a two-proportion z-test. An interval that spans 0 (p ≥ 0.05) means
the difference may well be noise. The test assumes independent messages and at least a few
delivered and undelivered ones per group.

On the emulator we send a second, shorter text to 120 of the contacts; on the real service set
`OTHER_CAMPAIGN` to a campaign of yours to compare with.
"""),
        code("""
OTHER_CAMPAIGN = os.environ.get("TARGETSMS_OTHER_CAMPAIGN", "demo-discount-15-short")
if ON_EMULATOR:
    other_contacts = contacts.sample(120, random_state=1)
    ts.send_campaign(client, other_contacts, "{name}, -15% до воскресенья!", SENDER,
                     campaign=OTHER_CAMPAIGN, store=store, progress=False)
    ts.wait_for_final(client, OTHER_CAMPAIGN, store=store, timeout=60)
both = pd.concat([statuses, ts.load_statuses(OTHER_CAMPAIGN, store=store)], ignore_index=True)
comparison = ts.compare(both, by="campaign", baseline=CAMPAIGN)
display_frame(comparison[["campaign", "messages", "final", "delivery_rate", "diff", "diff_low",
                          "diff_high", "p_value", "cost_per_delivered"]])
"""),
        code("""
from targetsms_analytics.plots import plot_compare

plot_compare(comparison)
"""),
        md("""
## Plots

Every plot function returns a matplotlib figure; the notebook shows it, and
`fig.savefig("states.png")` saves it for a presentation. The delivery rate carries its 95 %
interval.
"""),
        code("""
from targetsms_analytics.plots import (
    plot_cost,
    plot_delivery_rate,
    plot_failures,
    plot_heatmap,
    plot_latency_cdf,
    plot_states,
)

plot_delivery_rate(by_operator)
"""),
        code("""
plot_states(by_operator)
"""),
        code("""
plot_failures(failures)
"""),
        md("""
**Operator × hour.** The delivery rate of each operator by the local hour of sending: night sends
expire more often when phones are off. Each cell shows the rate and the number of final SMS.
"""),
        code("""
plot_heatmap(statuses, "operator", "hour")
"""),
        code("""
plot_cost(by_operator)
"""),
        md("""
How long the operators took to report: the share of SMS whose final status arrived within *x*
seconds of sending, one line per operator.
"""),
        code("""
plot_latency_cdf(statuses, by="operator")
"""),
        md("""
**Next:** `04_balance.ipynb` tracks the balance and spend over time.
"""),
    ]
    return _notebook(cells)


# ------------------------------------------------------------------ 04 balance


def balance() -> nbformat.NotebookNode:
    cells = [
        md("""
# 4. Balance and spend over time

The balance answer has two parts: money, and packages of prepaid SMS per direction. This notebook
shows both, then stores **snapshots** of the balance in the journal and turns them into spend over
time.
"""),
        CONNECT_MD,
        CONNECT,
        PLOTS_SETUP,
        STORE,
        md("""
## The balance now

`packages_frame` lists the SMS left per direction, largest first, catch-all directions
(«Остальные») last.
"""),
        code("""
from targetsms_analytics.analytics import packages_frame, spend_between
from targetsms_analytics.plots import plot_balance_history, plot_balance_packages

balance = client.balance()
print(f"Money: {balance.amount:,.2f} {balance.currency}")
packages_frame(balance)
"""),
        code("""
plot_balance_packages(balance)
"""),
        md("""
## Snapshots into the journal

A snapshot is the balance at a moment. Taken regularly (for instance once a day), snapshots show
how fast money and packages are spent. Here we take one, send a few waves of SMS, and take one
after each wave.

On the real service nothing is sent: each run of this notebook adds one snapshot to your journal,
and the history grows from run to run.
"""),
        code("""
from targetsms_analytics.journal import Journal

journal = Journal(store)
journal.save_balance(balance)  # the balance read above; ts.snapshot_balance(client, store=journal) does both

if ON_EMULATOR:
    from targetsms_analytics.demo import DEMO_CONTACTS  # the synthetic list shipped with the package

    contacts = pd.read_csv(DEMO_CONTACTS, dtype=str)
    contacts["name"] = contacts["name"].str.strip().str.capitalize().fillna("друзья")
    waves = {"wave-1": contacts.iloc[0:40], "wave-2": contacts.iloc[40:100], "wave-3": contacts.iloc[100:180]}
    for name, wave in waves.items():
        result = ts.send_campaign(client, wave, "Здравствуйте, {name}! Новая коллекция уже в магазине.",
                                  "SHOP", campaign=name, store=journal, progress=False)
        # saves the snapshot; the client waits out the identical-request interval itself
        after = ts.snapshot_balance(client, store=journal)
        print(f"{name}: {result.attrs['summary']['sent']} SMS sent, money left {after.amount:,.2f}")

snapshots = journal.balance_snapshots()
snapshots
"""),
        md("""
`spend_between` compares consecutive snapshots: `spent` is how much the money fell, `topped_up` how
much it rose. The first SMS of each wave came out of packages, so money only starts falling once the
packages run dry.
"""),
        code("""
spend = spend_between(snapshots)
print(f"Spent in total: {spend['spent'].sum():,.2f}")
spend
"""),
        code("""
plot_balance_history(snapshots)
"""),
        md("""
The packages in every snapshot, one column per direction (directions never used are left out):
"""),
        code("""
history = journal.package_history().pivot_table(
    index="taken_at", columns="direction", values="remaining", aggfunc="sum"
)
history.loc[:, history.max() > 0]
"""),
        code("""
journal.close()
"""),
        md("""
**Next:** `05_dashboard.ipynb` puts a campaign's report in an interactive dashboard.
"""),
    ]
    return _notebook(cells)


# ------------------------------------------------------------------ 05 dashboard


def dashboard() -> nbformat.NotebookNode:
    cells = [
        md("""
# 5. A dashboard

One widget for the questions that come up every day: pick a campaign (or all of them), group the
report by operator, day or campaign, and press **Refresh statuses** to ask the service about the
SMS that are not final yet.

Widgets need a live Jupyter (JupyterLab, Notebook 7, VS Code): on a static page (GitHub) they show
as text.
"""),
        CONNECT_MD,
        CONNECT,
        PLOTS_SETUP,
        STORE,
        md("""
## Some campaigns to look at

On the emulator we send three small campaigns, one per customer segment, so the dashboard has
something to compare. On the real service nothing is sent: the dashboard shows your journal.
"""),
        code("""
if ON_EMULATOR:
    from targetsms_analytics.demo import DEMO_CONTACTS  # the synthetic list shipped with the package

    contacts = pd.read_csv(DEMO_CONTACTS, dtype=str)
    contacts["name"] = contacts["name"].str.strip().str.capitalize().fillna("друзья")
    texts = {
        "постоянный": ("loyal-thanks", "{name}, спасибо, что вы с нами! Ваш бонус: 300 баллов."),
        "новый": ("welcome", "{name}, добро пожаловать! Скидка 10% на первый заказ."),
        "спящий": ("win-back", "{name}, давно не виделись! Скидка 20% до воскресенья."),
    }
    for segment, (campaign, text) in texts.items():
        group = contacts[contacts["segment"] == segment]
        result = ts.send_campaign(client, group, text, "SHOP", campaign=campaign, store=store,
                                  progress=False)
        print(f"{campaign:>12}: {result.attrs['summary']['sent']} SMS sent")
        ts.fetch_statuses(client, campaign, store=store, progress=False)  # a first look
"""),
        md("""
## The dashboard

Right after sending, many SMS are still `send` (pending). Press **Refresh statuses** a few times
and watch them become final.
"""),
        code("""
from targetsms_analytics.widgets import dashboard

board = dashboard(store=store, client=client)
board
"""),
        md("""
The numbers behind what the dashboard shows are available too: `board.dashboard.report` is the
report table, `board.dashboard.statuses` the statuses. Here we group by campaign and refresh once
from code, as if the buttons had been pressed:
"""),
        code("""
state = board.dashboard
state.grouping.value = "campaign"  # the same as clicking "campaign" above
state.refresh()
state.report[["campaign", "messages", "deliver", "send", "delivery_rate", "cost", "cost_per_delivered"]]
"""),
    ]
    return _notebook(cells)


# ------------------------------------------------------------------ plumbing

NOTEBOOKS = {
    "01_quickstart.ipynb": quickstart,
    "02_send_campaign.ipynb": send_campaign,
    "03_delivery_and_cost.ipynb": delivery_and_cost,
    "04_balance.ipynb": balance,
    "05_dashboard.ipynb": dashboard,
}


def _notebook(cells: list[nbformat.NotebookNode]) -> nbformat.NotebookNode:
    nb = new_notebook(
        cells=[nbformat.from_dict(dict(c)) for c in cells],
        metadata={
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
    )
    # Stable ids, so regenerating a notebook gives the same bytes.
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:02d}"
    nbformat.validate(nb)
    return nb


def render(factory) -> str:
    return nbformat.writes(factory(), version=4) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, write nothing")
    args = parser.parse_args(argv)
    stale = []
    for name, factory in NOTEBOOKS.items():
        path = HERE / name
        text = render(factory)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
            print("wrote", path.relative_to(HERE.parent))
    if stale:
        print("out of date:", ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
