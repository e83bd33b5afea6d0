"""An explainer in three scenes, the middle one long: the benchmark's example.

The long scene is what holds a single-machine render up; the farm cuts it into
animation ranges rendered on several agents at once.
"""

from manim import *


class Title(Scene):
    def construct(self):
        title = Text("Areas under curves", font_size=64)
        self.play(Write(title), run_time=1.5)
        self.play(title.animate.scale(0.6).to_edge(UP), run_time=1)
        self.wait(0.5)


class RiemannSums(Scene):
    def construct(self):
        axes = Axes(x_range=[0, 5, 1], y_range=[0, 6, 1], x_length=9, y_length=5.5).to_edge(DOWN)
        graph = axes.plot(lambda x: 0.2 * x**2 + 1, x_range=[0, 5], color=BLUE)
        self.play(Create(axes), run_time=1.5)
        self.play(Create(graph), run_time=1.5)
        rects = None
        for dx in [1, 0.5, 0.25, 0.125, 0.0625]:
            new = axes.get_riemann_rectangles(graph, x_range=[0.5, 4.5], dx=dx, fill_opacity=0.6, stroke_width=0.5)
            if rects is None:
                self.play(Create(new), run_time=1.5)
            else:
                self.play(Transform(rects, new), run_time=1.5)
            rects = rects or new
            self.wait(0.5)
        tracker = ValueTracker(0.5)
        dot = always_redraw(lambda: Dot(axes.c2p(tracker.get_value(), 0.2 * tracker.get_value() ** 2 + 1), color=YELLOW))
        self.add(dot)
        self.play(tracker.animate.set_value(4.5), run_time=2.5)
        self.play(tracker.animate.set_value(0.5), run_time=2.5)
        area = axes.get_area(graph, x_range=[0.5, 4.5], color=GREEN, opacity=0.5)
        self.play(FadeOut(rects), FadeIn(area), run_time=1.5)
        self.play(Indicate(area), run_time=1.5)
        self.wait(1)


class Summary(Scene):
    def construct(self):
        lines = VGroup(
            Text("Thinner rectangles,", font_size=48),
            Text("better estimates.", font_size=48),
        ).arrange(DOWN)
        self.play(FadeIn(lines, shift=UP), run_time=1.5)
        self.play(lines.animate.set_color(YELLOW), run_time=1)
        self.wait(1)
