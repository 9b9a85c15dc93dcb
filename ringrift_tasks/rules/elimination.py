"""Ring elimination primitives: taking rings off a stack and crediting them.

SEMANTICS OF THE PRIMITIVES (other rule modules import these; keep them stable)
---------------------------------------------------------------------------------
``eliminate_from_stack(s, cell, count, credited_player) -> int``
    Removes the top ``min(count, height)`` rings of the stack at ``cell``. The stack
    keeps its dict position when rings remain (JS ``Map.set`` on an existing key) and is
    deleted when it becomes empty. It then adds the number removed to
    ``s.board_eliminated[credited_player]``, ``s.eliminated[credited_player]`` and
    ``s.total_rings_eliminated``, and returns that number. Markers, collapsed spaces,
    rings in hand and ``total_rings_in_play`` are untouched. It does not check control.

    Who is credited, by caller, in the reference:
      * line reward / territory / forced elimination (``eliminateFromStack``): the moving
        player (``move.player``), who always controls the stack there (control is
        required; a target the player does not control is silently ignored and the state
        stays unchanged, see ``forced_elimination.apply_forced_elimination``);
      * movement / capture landing on a marker: the owner of the removed top ring, which
        is the mover (count 1);
      * territory region internal eliminations: the territory's processing player, not
        the owners of the rings inside the region (credit them to that player).
    Counts per context: line 1; territory and forced the whole cap; landing 1.

``extract_buried_ring(s, cell, player) -> bool``
    The reference's ``eliminateFromStack`` in its ``'recovery'`` context, i.e. what an
    ``eliminate_rings_from_stack`` move with ``eliminationContext: "recovery"`` does (the
    territory self-elimination of a turn that contained a recovery slide): removes the
    bottom-most ring of ``player`` lying below the top of the stack at ``cell`` (never the
    top ring), keeps the stack's dict position, and credits ``player`` with 1 in all three
    counters. Returns False (state unchanged) when the stack is missing or holds no buried
    ring of ``player`` (the reference leaves the state unchanged then too).

    NOT the same as the cost a ``recovery_slide`` itself pays: that one (in recovery.py)
    credits only ``eliminated[player]`` -- a quirk of the reference's RecoveryAggregate.
"""

from __future__ import annotations

from ringrift_tasks.rules.state import GameState


def eliminate_from_stack(s: GameState, cell: int, count: int, credited_player: int) -> int:
    """Remove ``count`` rings from the top of the stack at ``cell``; credit ``credited_player``.

    Returns the number of rings actually removed (0 if there is no stack there).
    """
    stack = s.stacks.get(cell)
    if stack is None or count <= 0:
        return 0
    if count >= len(stack):
        count = len(stack)
        del s.stacks[cell]
    else:
        s.stacks[cell] = stack[count:]
    s.board_eliminated[credited_player] += count
    s.eliminated[credited_player] += count
    s.total_rings_eliminated += count
    return count


def extract_buried_ring(s: GameState, cell: int, player: int) -> bool:
    """Remove the bottom-most buried ring of ``player`` from the stack at ``cell``.

    Recovery's cost (RR-CANON-R113): credits ``player`` with one eliminated ring.
    """
    stack = s.stacks.get(cell)
    if stack is None:
        return False
    # Scan from the bottom; index 0 (the top ring) is never extractable.
    for i in range(len(stack) - 1, 0, -1):
        if stack[i] == player:
            s.stacks[cell] = stack[:i] + stack[i + 1 :]
            s.board_eliminated[player] += 1
            s.eliminated[player] += 1
            s.total_rings_eliminated += 1
            return True
    return False
