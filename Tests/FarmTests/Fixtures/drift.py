"""Scenes whose frames depend on how time advances: the split-exactness fixtures.

Stock `manim -n` jumps skipped animations to their end, so every scene here
comes out different after a split unless skipping steps through each frame.
"""

import numpy as np
from manim import *


class DtUpdater(Scene):
    def construct(self):
        dot = Dot(RIGHT * 2, color=YELLOW)
        dot.add_updater(lambda m, dt: m.rotate(1.3 * dt, about_point=ORIGIN))
        self.add(dot)
        square = Square()
        self.play(Create(square), run_time=0.8)
        self.play(square.animate.shift(LEFT), run_time=0.7)
        self.wait(0.6)
        self.play(square.animate.scale(0.5), run_time=0.9)


class AlwaysRedraw(Scene):
    def construct(self):
        tracker = ValueTracker(0)
        line = always_redraw(
            lambda: Line(ORIGIN, [2 * np.cos(tracker.get_value() + self.renderer.time), 2 * np.sin(self.renderer.time), 0])
        )
        self.add(line)
        self.play(tracker.animate.set_value(2), run_time=0.8)
        self.wait(0.5)
        self.play(tracker.animate.set_value(-1), run_time=0.9)
        self.play(FadeIn(Circle()), run_time=0.6)


class SeededRandom(Scene):
    def construct(self):
        dots = VGroup(*[Dot(radius=0.05) for _ in range(20)])
        dots.add_updater(lambda m, dt: [d.move_to([np.random.uniform(-4, 4), np.random.uniform(-2, 2), 0]) for d in m])
        self.add(dots)
        self.play(Create(Square()), run_time=0.7)
        self.wait(0.5)
        self.play(Create(Circle()), run_time=0.8)
        self.play(FadeOut(dots), run_time=0.5)


class RotatingCamera(ThreeDScene):
    def construct(self):
        self.set_camera_orientation(phi=70 * DEGREES, theta=30 * DEGREES)
        cube = Cube(side_length=2, fill_opacity=0.6)
        self.add(ThreeDAxes())
        self.begin_ambient_camera_rotation(rate=0.6)
        self.play(Create(cube), run_time=0.8)
        self.wait(0.5)
        self.play(cube.animate.shift(OUT), run_time=0.7)
        self.play(Rotate(cube, PI / 3), run_time=0.6)
