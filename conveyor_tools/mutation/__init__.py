"""Mutation testing of Conveyor's core modules (``make mutation``): do the tests notice a bug?"""
