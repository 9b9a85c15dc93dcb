"""The game state: a compact, mutable record that the rules functions read and update.

Design for speed: stacks, markers and collapsed spaces are dicts keyed by integer cell;
per-player counters are lists indexed by player number (index 0 unused). A state does not
carry the move history: the few facts the rules derive from history (what the current
player already did this turn, whether the pie rule is still open) are kept as small fields.
``copy()`` is cheap (shallow dict/list copies; stacks are immutable tuples).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ringrift_tasks.rules.board import BOARD_SPECS, Geometry, geometry

if TYPE_CHECKING:
    from ringrift_tasks.rules.moves import Move

PHASES = (
    "ring_placement",
    "movement",
    "capture",
    "chain_capture",
    "line_processing",
    "territory_processing",
    "forced_elimination",
    "game_over",
)

# A stack is a tuple of ring owners, top ring first: stack[0] controls it.
Stack = tuple[int, ...]


def cap_height(stack: Stack) -> int:
    """Number of consecutive rings of the controlling colour from the top."""
    top = stack[0]
    n = 1
    for owner in stack[1:]:
        if owner != top:
            break
        n += 1
    return n


@dataclass(slots=True)
class LpsTracker:
    """Host-side last-player-standing round tracker (parity README §3.5); hashed."""

    round_index: int = 0
    current_round_first_player: int | None = None
    actor_mask: dict[int, bool] = field(default_factory=dict)
    exclusive_player_for_completed_round: int | None = None
    consecutive_exclusive_rounds: int = 0
    consecutive_exclusive_player: int | None = None

    def copy(self) -> LpsTracker:
        return LpsTracker(
            self.round_index,
            self.current_round_first_player,
            dict(self.actor_mask),
            self.exclusive_player_for_completed_round,
            self.consecutive_exclusive_rounds,
            self.consecutive_exclusive_player,
        )


@dataclass(frozen=True, slots=True)
class GameConfig:
    """A board type and a player count, named like ``square8_2p``."""

    board_type: str
    num_players: int

    @property
    def name(self) -> str:
        return f"{self.board_type}_{self.num_players}p"

    @staticmethod
    def parse(name: str) -> GameConfig:
        """Parse ``<board>_<N>p``; raises ``ValueError`` naming the bad part."""
        board, sep, players = name.rpartition("_")
        if not sep or board not in BOARD_SPECS or players not in ("2p", "3p", "4p"):
            raise ValueError(
                f"bad config name {name!r}: expected <board>_<N>p with board in "
                f"{sorted(BOARD_SPECS)} and N in 2..4"
            )
        return GameConfig(board, int(players[0]))


ALL_CONFIGS: tuple[GameConfig, ...] = tuple(
    GameConfig(b, n) for b in ("square8", "hex8", "square19", "hexagonal") for n in (2, 3, 4)
)

# Reference self-play move caps (steps, bookkeeping moves included).
MOVE_CAPS: dict[str, tuple[int, int, int]] = {
    "square8": (600, 900, 1400),
    "hex8": (600, 900, 1400),
    "square19": (2400, 3000, 3600),
    "hexagonal": (3600, 4200, 4800),
}


def move_cap(config: GameConfig) -> int:
    """Maximum number of steps of a game of ``config`` (the reference self-play limit)."""
    return MOVE_CAPS[config.board_type][config.num_players - 2]


def line_length(board_type: str, num_players: int) -> int:
    """Required line length: 3 on the small boards with 3-4 players, else 4."""
    if board_type in ("square8", "hex8") and num_players >= 3:
        return 3
    return 4


class GameState:
    """Everything the rules need about a position. Mutated in place by ``apply``."""

    __slots__ = (
        "geo",
        "num_players",
        "stacks",
        "markers",
        "collapsed",
        "board_eliminated",
        "rings_in_hand",
        "eliminated",
        "territory",
        "player_ids",
        "current_player",
        "phase",
        "status",
        "winner",
        "must_move_from",
        "chain_capture_pos",
        "pending_line_reward",
        "total_rings_in_play",
        "total_rings_eliminated",
        "victory_threshold",
        "territory_victory_threshold",
        "territory_victory_minimum",
        "lps_rounds_required",
        "swap_rule_enabled",
        "lps",
        "turn_moves",
        "moves_played",
        "p1_has_moved",
        "p2_has_moved",
        "swap_applied",
        "line_length",
        "outcome",
    )

    geo: Geometry
    num_players: int
    stacks: dict[int, Stack]
    markers: dict[int, int]
    collapsed: dict[int, int]
    board_eliminated: list[int]
    rings_in_hand: list[int]
    eliminated: list[int]
    territory: list[int]
    player_ids: list[str]
    current_player: int
    phase: str
    status: str
    winner: int | None
    must_move_from: int | None
    chain_capture_pos: int | None
    pending_line_reward: bool
    total_rings_in_play: int
    total_rings_eliminated: int
    victory_threshold: int
    territory_victory_threshold: int
    territory_victory_minimum: int
    lps_rounds_required: int
    swap_rule_enabled: bool
    lps: LpsTracker
    # Moves applied since the current turn began (the rules' view of "this turn").
    turn_moves: list[Move]
    moves_played: int
    # Pie-rule gate facts (parity README §3.2 H4).
    p1_has_moved: bool
    p2_has_moved: bool
    swap_applied: bool
    line_length: int
    # How the game ended (a victory.Victory), set when it ends; not part of the view.
    outcome: Any

    @property
    def config(self) -> GameConfig:
        return GameConfig(self.geo.board_type, self.num_players)

    @property
    def is_over(self) -> bool:
        return self.status != "active"

    def copy(self) -> GameState:
        """A state that shares nothing mutable with this one."""
        new = GameState.__new__(GameState)
        new.geo = self.geo
        new.num_players = self.num_players
        new.stacks = dict(self.stacks)
        new.markers = dict(self.markers)
        new.collapsed = dict(self.collapsed)
        new.board_eliminated = list(self.board_eliminated)
        new.rings_in_hand = list(self.rings_in_hand)
        new.eliminated = list(self.eliminated)
        new.territory = list(self.territory)
        new.player_ids = list(self.player_ids)
        new.current_player = self.current_player
        new.phase = self.phase
        new.status = self.status
        new.winner = self.winner
        new.must_move_from = self.must_move_from
        new.chain_capture_pos = self.chain_capture_pos
        new.pending_line_reward = self.pending_line_reward
        new.total_rings_in_play = self.total_rings_in_play
        new.total_rings_eliminated = self.total_rings_eliminated
        new.victory_threshold = self.victory_threshold
        new.territory_victory_threshold = self.territory_victory_threshold
        new.territory_victory_minimum = self.territory_victory_minimum
        new.lps_rounds_required = self.lps_rounds_required
        new.swap_rule_enabled = self.swap_rule_enabled
        new.lps = self.lps.copy()
        new.turn_moves = list(self.turn_moves)
        new.moves_played = self.moves_played
        new.p1_has_moved = self.p1_has_moved
        new.p2_has_moved = self.p2_has_moved
        new.swap_applied = self.swap_applied
        new.line_length = self.line_length
        new.outcome = self.outcome
        return new

    # --- small derived facts used everywhere ------------------------------------------
    def rings_on_board(self, player: int) -> int:
        """Rings of ``player``'s colour anywhere on the board, buried or not."""
        return sum(s.count(player) for s in self.stacks.values())

    def has_material(self, player: int) -> bool:
        """True if ``player`` has rings in hand or any ring on the board."""
        if self.rings_in_hand[player] > 0:
            return True
        return any(player in s for s in self.stacks.values())

    def controls_stack(self, player: int) -> bool:
        return any(s[0] == player for s in self.stacks.values())

    def next_player(self, player: int) -> int:
        return player % self.num_players + 1


def new_game(config: GameConfig | str) -> GameState:
    """The start position of ``config`` (e.g. ``"square8_2p"``), as the reference creates it."""
    if isinstance(config, str):
        config = GameConfig.parse(config)
    spec = BOARD_SPECS[config.board_type]
    n = config.num_players
    if not 2 <= n <= 4:
        raise ValueError(f"num_players must be 2..4, got {n}")
    s = GameState.__new__(GameState)
    s.geo = geometry(config.board_type)
    s.num_players = n
    s.stacks = {}
    s.markers = {}
    s.collapsed = {}
    s.board_eliminated = [0] * (n + 1)
    s.rings_in_hand = [0] + [spec.rings_per_player] * n
    s.eliminated = [0] * (n + 1)
    s.territory = [0] * (n + 1)
    s.player_ids = [""] + [f"p{i}" for i in range(1, n + 1)]
    s.current_player = 1
    s.phase = "ring_placement"
    s.status = "active"
    s.winner = None
    s.must_move_from = None
    s.chain_capture_pos = None
    s.pending_line_reward = False
    s.total_rings_in_play = 0
    s.total_rings_eliminated = 0
    # JS Math.round semantics (half up), not Python's banker's rounding.
    s.victory_threshold = int(spec.rings_per_player * (2 / 3 + (n - 1) / 3) + 0.5)
    s.territory_victory_threshold = spec.total_spaces // 2 + 1
    s.territory_victory_minimum = spec.total_spaces // n + 1
    s.lps_rounds_required = 3
    s.swap_rule_enabled = n == 2
    s.lps = LpsTracker()
    s.turn_moves = []
    s.moves_played = 0
    s.p1_has_moved = False
    s.p2_has_moved = False
    s.swap_applied = False
    s.line_length = line_length(config.board_type, n)
    s.outcome = None
    return s
