"""Agents: everything that picks a move, behind one interface (``ai.agent.Agent``)."""
