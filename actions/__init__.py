"""The application layer: one function per thing a user can do, called by the command line (`cli.py`)
and by the window (`gui/`) alike. Each takes plain values (paths, strings, numbers, an open `Store`
where the caller holds one) and returns plain results (dataclasses with `as_dict()` where the
command line prints JSON) or raises a typed error (`core.errors.DomainError` and its kin) whose
message is the Chinese text to show. No printing, no argument parsing, no Qt in here.

Importing this package imports nothing; each module imports the heavy libraries it needs inside
the function that needs them.

| Action                                   | Function                          | Command              |
|------------------------------------------|-----------------------------------|----------------------|
| open the database (with the write lock)  | database.open_store               | (every command)      |
|   … for the window's lifetime            | database.lock_for_window, open_database | (window)       |
| the demonstration database               | database.demo_database            | --demo               |
| bind the database to a town              | database.bind_town                | init --town          |
| make it the city's database              | database.use_for_city             | init --city          |
| show / change the 单位信息                | database.show_profile / update_profile | profile         |
| back up the database                     | database.backup                   | backup               |
| restore a backup                         | database.restore                  | restore              |
| check the audit chain                    | database.verify_audit             | audit verify         |
| the start-up duties (audit, clock, backup) | database.start_up               | (every command, the window) |
| enter figures and 说明                    | figures.enter_figures             | enter                |
| save the entry form's figures and 说明    | figures.save_figures              | (window)             |
| check a quarter                          | figures.check                     | check                |
| enter / list the 基期数                   | figures.stock_bases               | base                 |
| pace against the plan                    | figures.progress                  | progress             |
| a year's rates and totals                | figures.annual                    | annual               |
| the audit trail (修改记录)                | figures.history                   | history              |
| the quarters' states (list and `status`) | quarters.statuses                 | status               |
| 退回修改                                   | figures.reopen                    | reopen               |
| import a signed plan package            | plan_packages.plan_import         | plan import          |
| list the plans (one line each)           | plans.list_plans                  | targets list         |
| export a return (signed or draft)        | returns.export_quarter            | export               |
|   … step by step (the window)            | returns.prepare_export, missing_sign_off, open_identity, reserve_for_signing, write_files, record_signed | |
| print preview of a return or its summary | returns.write_preview             | (window)             |
| import the town's signing identity       | identity.import_identity          | identity import      |
| show it                                  | identity.show_identity            | identity show        |
| read a passphrase                        | identity.passphrase_from          | --passphrase-file    |
| request a certificate for a USB-key key  | identity.request_certificate      | identity request     |
| bind a certificate to the USB key        | identity.import_token_identity    | identity import --cert |
|   … the tokens a driver sees (the window) | identity.present_tokens, identity_kind, signing_refusal | (window) |
| verify return files                      | city.verify_files                 | verify               |
|   … each in a bounded worker (the window) | city.verify_isolated_files, issued_plans, imported_plans | (window) |
| collect a folder and consolidate         | city.consolidate                  | consolidate          |
|   … in steps (the city's window)         | city.stored_trust_roots, measured_plans, revocations, collect_returns, summarise | |
| write the city's 汇总表                   | city.write_city_summary           | consolidate --out    |
| create the city's root                   | city.create_root                  | city init            |
| issue a town's identity                  | city.issue_identity               | city issue           |
| issue for a town's request (USB key)     | city.issue_for_request            | city issue --csr     |
| revoke a town's identity                 | city.revoke_identity              | city revoke          |
| the demo set of signed returns           | city.demo_set                     | city demo            |

Signed plan packages (issue 14) live in `plan_packages.py`; the city round trip (issue 27: receipts,
send-backs, `receipt import`, the register, 催报) in `receipts.py`.
"""

__version__ = "0.1.0"  # the application's, shown by --version and the window's 关于
