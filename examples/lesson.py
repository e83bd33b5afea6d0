"""A short lesson in three scenes: the bundled ManimFarm example."""

from manim import *


class Intro(Scene):
    def construct(self):
        title = Text("Pythagoras", font_size=72)
        self.play(Write(title), run_time=1.5)
        self.play(title.animate.to_edge(UP), run_time=1)


class Proof(Scene):
    def construct(self):
        triangle = Polygon(ORIGIN, RIGHT * 3, RIGHT * 3 + UP * 2, color=BLUE)
        squares = VGroup(
            Square(3).next_to(triangle, DOWN, buff=0).align_to(triangle, LEFT),
            Square(2).next_to(triangle, RIGHT, buff=0).align_to(triangle, DOWN),
        ).set_fill(YELLOW, 0.4)
        self.play(Create(triangle))
        self.play(FadeIn(squares, shift=UP * 0.2))
        self.play(Rotate(VGroup(triangle, squares), PI / 8), run_time=1)
        self.wait(0.5)


class Formula(Scene):
    def construct(self):
        formula = MathTex("a^2", "+", "b^2", "=", "c^2", font_size=96)
        self.play(Write(formula))
        self.play(formula[4].animate.set_color(YELLOW))
        self.wait(1)
