from manim import *

# Five scenes of different shapes for the object-store benchmark (bench/object-store.py):
# a title, LaTeX, an updater, a long scene that is cut into ranges, and a short coda.


class Title(Scene):
    def construct(self):
        title = Text("Five scenes")
        self.play(Write(title), run_time=2)
        self.play(title.animate.to_edge(UP), run_time=1)


class Formula(Scene):
    def construct(self):
        formula = MathTex(r"\sum_{k=1}^{n} k = \frac{n(n+1)}{2}")
        self.play(Write(formula), run_time=2)
        self.play(formula.animate.scale(1.5), run_time=1)


class Orbit(Scene):
    def construct(self):
        dot = Dot(RIGHT * 2)
        trace = TracedPath(dot.get_center)
        self.add(trace, dot)
        self.play(Rotating(dot, about_point=ORIGIN, angle=TAU), run_time=3, rate_func=linear)


class Long(Scene):
    def construct(self):
        squares = VGroup(*[Square(0.5).shift(RIGHT * (i - 3)) for i in range(7)])
        for square in squares:
            self.play(Create(square), run_time=1)
        self.play(squares.animate.arrange_in_grid(rows=2), run_time=2)


class Coda(Scene):
    def construct(self):
        self.play(FadeIn(Circle()), run_time=1.5)
