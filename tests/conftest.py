"""The two tiers of the test suite.

`python3 dev.py test` runs the fast tier: every test not listed in SLOW_TIER below. It keeps at
least one real end-to-end test of each area (a server with WebSocket clients, the browser page,
bots, matchmaking, reconnection, spectators, attacks), so that a quick run still catches a broken
area. The slow tier holds what a quick run can do without: the benchmark tools' own tests, the
leak checks, the longer browser scenes, the property tests with hundreds or thousands of
examples, the checks of the JS fixtures, and the end-to-end cases beyond the first of their area
that wait out ticks or deadlines.

    python3 dev.py test --all        both tiers (what .ci/run runs)
    python3 dev.py test -m slow      the slow tier alone (-m "not slow": the fast tier)
    python3 dev.py test tests/x.py   every test of that file, whatever its tier

The slow tier is left out only when the run names no files or tests and gives no -m expression;
-k still picks among the fast tier then. Each entry below is a module (every test in it) or a
module::function (every parametrization of it). The tests are marked `slow` from here rather
than in their files, so that the list of the slow tier is in one place. A full collection checks
that every entry still names a test, so that a renamed test cannot move to the fast tier unseen,
and that the end-to-end test each area keeps in the fast tier (KEPT_FAST) is there and not slow.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

SLOW_TIER: dict[str, tuple[str, ...]] = {
    "the benchmark tools' own tests: each runs a whole benchmark or measuring tool for real, briefly": (
        "test_attack_bench.py",
        "test_peer.py",
        "test_floor_server.py",
        "test_instruction_counts.py",
        "test_bots.py::test_bench_measures_a_tiny_run",
        "test_bots.py::test_bench_measures_rooms_against_one_room_and_with_room_churn",
        "test_bots.py::test_bench_measures_what_a_spectator_costs_against_a_player",
        "test_bots.py::test_pair_measures_two_trees_at_once",
        "test_bench_netcode.py::test_a_short_run_measures_a_page_through_a_jittery_proxy",
        "test_bots.py::test_soak_samples_the_servers_memory_under_load",
    ),
    "leak checks: connections that come and go, and the garbage they leave": ("test_churn.py",),
    "browser scenes beyond the first (test_browser.py::test_two_windows_play_together stays fast)": (
        "test_browser_ball.py",
        "test_browser.py::test_name_prompt_joins_with_the_name_given",
        "test_browser.py::test_error_from_the_server_is_shown",
        "test_browser.py::test_server_going_away_is_shown_then_retried",
        "test_browser.py::test_own_movement_is_predicted_under_latency",
        "test_browser.py::test_the_interpolation_delay_grows_under_jitter_and_the_page_keeps_drawing",
        "test_browser.py::test_the_arena_is_drawn_and_its_walls_stop_the_player",
        "test_browser.py::test_a_player_shot_down_is_shown_dead_then_respawns",
        "test_browser.py::test_two_named_pages_meet_in_one_room_of_the_default_map",
        "test_browser.py::test_a_private_room_made_in_the_lobby_is_joined_by_its_link_only",
        "test_browser.py::test_a_refused_room_brings_the_lobby_back_saying_why",
        "test_browser.py::test_a_page_cut_off_comes_back_as_the_same_player",
        "test_browser.py::test_a_page_not_kept_rejoins_afresh_and_a_page_taken_over_stops",
        "test_browser.py::test_a_spectator_watches_the_yard_and_follows_the_player_clicked",
        "test_browser.py::test_nothing_to_watch_brings_the_lobby_back_saying_why",
        "test_browser.py::test_pages_served_by_one_process_play_in_rooms_on_two",
        "test_browser.py::test_a_page_whose_copy_went_wrong_asks_for_a_full_snapshot",
        "test_playback.py::test_the_playback_page_draws_the_replayed_state_and_pauses_steps_and_changes_speed",
        "test_playback.py::test_the_playback_page_fetches_a_file_by_url_and_says_what_is_wrong_with_one",
        "test_playback.py::test_the_playback_page_plays_ball_with_the_ball_games_renderer",
    ),
    "bots against a server beyond the first (test_bots.py::test_bots_play_verify_and_churn stays fast)": (
        "test_bots.py::test_fighting_bots_shoot_and_hit_in_the_arena",
        "test_bots.py::test_dropping_bots_resume_as_the_same_players_and_time_it",
        "test_bots.py::test_bots_over_two_processes_merge_their_reports",
        "test_bots.py::test_spectators_watch_the_players_follow_them_and_verify_their_mirrors",
        "test_bots.py::test_a_spectator_in_the_arena_is_sent_the_view_of_the_player_it_follows",
        "test_bots.py::test_spectators_in_a_process_of_their_own_wait_for_a_player_to_watch",
        "test_bots.py::test_bots_sent_to_rooms_made_over_http_and_hosts_that_churn_rooms",
        "test_bots.py::test_quick_play_spreads_bots_over_rooms_and_each_sees_only_its_own",
        "test_bots.py::test_spectators_sent_to_rooms_watch_their_own_room_only",
        "test_bots.py::test_a_spectator_past_the_rooms_limit_is_refused_and_counted",
        "test_bots.py::test_bots_count_a_server_that_refuses_them",
        "test_ball.py::test_bots_play_ball_on_the_server",
        "test_writing_a_game.py::test_the_server_serves_the_docs_game_and_bots_play_it",
    ),
    "attacks that wait out deadlines, or start a server for each case (the others stay fast)": (
        "test_attacks.py::test_connections_are_bounded_per_address",
        "test_attacks.py::test_slowloris_holds_at_most_its_share_of_http_slots_and_each_for_one_deadline",
        "test_attacks.py::test_a_kept_alive_idle_http_connection_is_closed_after_the_deadline",
        "test_attacks.py::test_static_files_are_the_demos_and_odd_paths_are_not_found",
        "test_attacks.py::test_only_the_servers_own_pages_open_websockets_by_default",
        "test_desync.py::test_a_resync_flood_gets_one_full_snapshot_a_second_and_costs_the_others_nothing",
    ),
    "property tests with hundreds or thousands of examples, and long loops": (
        "test_codec.py::test_arbitrary_arrays_raise_only_protocol_error",
        "test_codec.py::test_the_inline_input_check_agrees_with_the_field_by_field_one",
        "test_codec.py::test_the_quick_change_record_check_agrees_with_the_field_by_field_one",
        "test_codec.py::test_decode_hello_raises_only_protocol_error",
        "test_codec.py::test_shots_picked_from_items_packed_once_are_the_shots_encoded_whole",
        "test_collision.py::test_a_move_ends_clear_of_walls_on_the_grid_and_never_crosses_one",
        "test_collision.py::test_players_running_round_the_arena_stay_out_of_walls",
        "test_combat.py::test_a_point_index_finds_what_a_scan_of_every_point_finds",
        "test_combat.py::test_targets_outside_the_ray_box_can_never_be_hit",
        "test_schema.py::test_the_generated_code_gives_the_records_the_rules_give",
        "test_transport.py::test_frame_extent_waits_for_whole_frames_and_refuses_big_ones_at_the_header",
        "test_inputs.py::test_the_generated_decoder_and_the_checked_reading_agree",
        "test_room.py::test_a_delta_body_holds_the_change_records_change_items_gives",
        "test_directory.py::test_disposed_ids_are_remembered_up_to_a_bound",
        "test_protocol_docs.py::test_movement_rounds_to_the_nearest_eighth_and_clamps_the_centre_to_the_world",
    ),
    "the JS fixtures, each test generating all of them (the Node tests of the page's logic stay fast)": (
        "test_js_logic.py::test_step_fixture_is_what_the_server_computes_today",
        "test_js_logic.py::test_collision_fixture_is_what_the_server_computes_today",
        "test_js_logic.py::test_ball_step_fixture_is_what_the_server_computes_today",
        "test_js_logic.py::test_snapshot_fixture_is_what_the_server_sends_today",
        "test_js_logic.py::test_schema_fixture_is_what_the_server_sends_today",
    ),
    "many processes: the cases that wait out a time to live, or start several servers": (
        "test_cluster.py::test_a_process_that_stops_beating_leaves_the_directory_with_its_rooms_within_its_ttl",
        "test_cluster_e2e.py::test_concurrent_quick_plays_on_two_processes_fill_rooms_exactly",
        "test_cluster_e2e.py::test_a_process_killed_mid_game_leaves_the_directory_and_the_others_play_on",
        "test_cluster_e2e.py::test_a_process_that_cannot_reach_redis_exits_with_a_clear_error",
        "test_cluster_e2e.py::test_the_local_cluster_command_starts_processes_and_redis_and_ctrl_c_stops_them_all",
        "test_cluster_e2e.py::test_sigterm_drains_a_process_the_directory_sends_no_one_there_and_it_stops_when_its_last_player_leaves",
        "test_cluster_e2e.py::test_a_drain_refuses_newcomers_and_says_goodbye_when_its_timeout_ends",
        "test_agones.py::test_ready_once_listening_then_health_the_counters_and_shutdown_after_the_drain",
        "test_agones.py::test_a_sidecar_that_answers_late_gets_ready_and_an_undeclared_counter_is_left_alone",
        "test_agones.py::test_in_a_cluster_players_are_sent_to_the_address_agones_gave",
        "test_cluster_e2e.py::test_bots_join_through_the_matchmaker_and_spread_over_the_processes",
        "test_cluster_e2e.py::test_a_stalled_redis_costs_matchmaking_a_503_and_the_tick_nothing",
        "test_cluster_e2e.py::test_a_session_token_leads_back_to_the_process_that_holds_the_room",
    ),
    "recordings made by a real server while bots play": (
        "test_recording.py::test_a_server_records_every_room_and_each_replays_bit_for_bit",
        "test_recording.py::test_minutes_of_bots_joining_leaving_and_dropping_replay_to_every_recorded_hash",
    ),
    "end-to-end cases that wait out many ticks, beyond the first of their area": (
        "test_server_e2e.py::test_client_that_never_reads_is_dropped_without_slowing_the_tick",
        "test_server_e2e.py::test_snapshots_arrive_at_the_tick_rate",
        "test_protocol_docs.py::test_pong_carries_the_rooms_tick",
        "test_protocol_docs.py::test_the_view_spawns_within_the_margin_and_removes_past_the_hysteresis_band",
        "test_matchmaking.py::test_players_of_one_room_never_see_another_rooms_entities",
    ),
}
SLOW = {entry for entries in SLOW_TIER.values() for entry in entries}

# The end-to-end test of each area that the fast tier keeps, whatever else moves to the slow tier
KEPT_FAST = {
    "a server and WebSocket clients": "test_server_e2e.py::test_two_players_one_moves_the_other_sees_it",
    "the browser page": "test_browser.py::test_two_windows_play_together",
    "bots": "test_bots.py::test_bots_play_verify_and_churn",
    "matchmaking": "test_matchmaking.py::test_quick_play_over_hello_and_over_http_share_the_rooms",
    "reconnection": "test_reconnect.py::test_a_dropped_player_resumes_as_the_same_entity_and_moves_again",
    "spectators": (
        "test_spectators.py::test_a_spectator_over_websockets_watches_follows_and_is_refused_inputs"
    ),
    "attacks": "test_attacks.py::test_handshakes_that_never_say_hello_are_bounded_per_address",
    "the second game": "test_ball.py::test_the_server_plays_ball_for_websocket_clients",
    "many processes": (
        "test_cluster_e2e.py::test_matchmaking_on_one_process_seats_players_on_another_and_the_seat_works_there_only"
    ),
}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--all",
        action="store_true",
        dest="all_tiers",
        help="run the slow tier too (tests/conftest.py lists it); by default it is left out",
    )


def _default_selection(config: pytest.Config) -> bool:
    """Whether the run names no files or tests and gives no -m expression."""
    return config.args_source is pytest.Config.ArgsSource.TESTPATHS and not config.option.markexpr


def _leaves_out_slow(config: pytest.Config) -> bool:
    return _default_selection(config) and not config.option.all_tiers


def pytest_report_header(config: pytest.Config) -> str:
    if _leaves_out_slow(config):
        return "tiers: the fast one only (--all runs the slow tier too)"
    if _default_selection(config):
        return "tiers: both (--all)"
    return "tiers: what the files, tests or -m named"


def _entries(item: pytest.Item) -> tuple[str, str]:
    name = getattr(item, "originalname", item.name)
    return item.path.name, f"{item.path.name}::{name}"


@pytest.hookimpl(tryfirst=True)  # before -m and -k select, so that -m slow sees the marks
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    seen: set[str] = set()
    modules: set[str] = set()
    functions: set[str] = set()
    for item in items:
        if item.path.resolve().parent != HERE:
            continue
        module, function = _entries(item)
        modules.add(module)
        functions.add(function)
        for entry in (module, function):
            if entry in SLOW:
                item.add_marker(pytest.mark.slow)
                seen.add(entry)
    if _default_selection(config) and session.testsfailed == 0:
        stale = sorted(
            entry
            for entry in SLOW - seen
            if entry.partition("::")[0] in modules or not (HERE / entry.partition("::")[0]).exists()
        )
        if stale:
            raise pytest.UsageError(f"tests/conftest.py: SLOW_TIER names no test as {', '.join(stale)}")
        lost = sorted(
            f"{area} ({test})"
            for area, test in KEPT_FAST.items()
            if test not in functions or test in SLOW or test.partition("::")[0] in SLOW
        )
        if lost:
            raise pytest.UsageError(f"tests/conftest.py: KEPT_FAST has no fast test for {'; '.join(lost)}")
    if _leaves_out_slow(config):
        fast = [item for item in items if item.get_closest_marker("slow") is None]
        if len(fast) < len(items):
            config.hook.pytest_deselected(items=[item for item in items if item.get_closest_marker("slow")])
            items[:] = fast
