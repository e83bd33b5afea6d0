"""Eight short formula scenes with MathTex: the benchmark's second example.

The opposite shape to explainer.py: nothing long enough to split, many scenes of two to four
seconds, each compiling its own LaTeX. Here the farm's per-task costs (start-up, LaTeX, getting the
next task) weigh most. Needs LaTeX on the agents.
"""

from manim import *


class Pythagoras(Scene):
    def construct(self):
        formula = MathTex("a^2", "+", "b^2", "=", "c^2", font_size=72)
        self.play(Write(formula), run_time=1.5)
        self.play(formula[4].animate.set_color(YELLOW), run_time=0.75)
        self.wait(0.5)


class QuadraticFormula(Scene):
    def construct(self):
        equation = MathTex(r"ax^2 + bx + c = 0")
        solution = MathTex(r"x = \frac{-b \pm \sqrt{b^2 - 4ac}}{2a}")
        self.play(FadeIn(equation, shift=UP), run_time=1)
        self.play(TransformMatchingTex(equation, solution), run_time=1.5)
        self.wait(0.5)


class EulerIdentity(Scene):
    def construct(self):
        identity = MathTex(r"e^{i\pi} + 1 = 0", font_size=96)
        box = SurroundingRectangle(identity, color=BLUE, buff=0.3)
        self.play(Write(identity), run_time=1.5)
        self.play(Create(box), run_time=1)


class PowerRule(Scene):
    def construct(self):
        rule = MathTex(r"\frac{d}{dx} x^n = n x^{n-1}")
        example = MathTex(r"\frac{d}{dx} x^2 = 2x").next_to(rule, DOWN, buff=0.6)
        self.play(Write(rule), run_time=1.25)
        self.play(FadeIn(example, shift=DOWN), run_time=1)
        self.wait(0.5)


class GaussSum(Scene):
    def construct(self):
        total = MathTex(r"\sum_{k=1}^{n} k = \frac{n(n+1)}{2}")
        hundred = MathTex(r"1 + 2 + \cdots + 100 = 5050").to_edge(DOWN)
        self.play(Write(total), run_time=1.5)
        self.play(Write(hundred), run_time=1.25)


class GeometricSeries(Scene):
    def construct(self):
        series = MathTex(r"\sum_{k=0}^{\infty} r^k = \frac{1}{1 - r}", r"\quad |r| < 1")
        self.play(Write(series[0]), run_time=1.5)
        self.play(FadeIn(series[1]), series[0].animate.set_color(GREEN), run_time=1)
        self.wait(0.5)


class IntegrationByParts(Scene):
    def construct(self):
        parts = MathTex(r"\int u \, dv = uv - \int v \, du")
        self.play(Write(parts), run_time=1.5)
        self.play(parts.animate.scale(1.3).set_color(ORANGE), run_time=1)


class Binomial(Scene):
    def construct(self):
        square = MathTex(r"(a + b)^2 = a^2 + 2ab + b^2")
        general = MathTex(r"(a + b)^n = \sum_{k=0}^{n} \binom{n}{k} a^{n-k} b^k")
        self.play(Write(square), run_time=1.25)
        self.play(ReplacementTransform(square, general), run_time=1.5)
        self.wait(0.5)
