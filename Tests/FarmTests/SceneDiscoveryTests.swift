@testable import Coordinator
import Testing

@Suite struct SceneDiscoveryTests {
    let discovery = SceneDiscovery(python: "python3")

    @Test func scenesAreListedInDefinitionOrderIncludingIndirectSubclasses() async throws {
        let script = """
            import manim as mn
            from manim import *

            class Helper:
                pass

            class Base(Scene):
                def setup(self):
                    self.camera.background_color = BLUE

            class Zeta(Base):
                def construct(self):
                    self.add(Circle())

            class Alpha(mn.MovingCameraScene):
                def construct(self):
                    pass

            class Deeper(Zeta):
                pass

            def not_a_scene():
                class Inner(Scene):
                    def construct(self): pass
            """
        let scenes = try await discovery.scenes(in: script)
        // Base renders nothing (no construct); Inner is not at module level.
        #expect(scenes.map(\.name) == ["Zeta", "Alpha", "Deeper"])
        #expect(scenes.map(\.line) == [11, 15, 19])
    }

    @Test func aSyntaxErrorIsReportedWithItsLine() async throws {
        let script = "from manim import *\n\nclass A(Scene):\n    def construct(self)\n        pass\n"
        await #expect(throws: ScriptError.syntax(line: 4, column: 24, message: "expected ':'")) {
            try await discovery.scenes(in: script)
        }
    }

    @Test func aScriptWithoutScenesIsRefused() async {
        await #expect(throws: ScriptError.noScenes) { try await discovery.scenes(in: "print('hello')\n") }
        await #expect(throws: ScriptError.noScenes) { try await discovery.scenes(in: "class A(object): pass\n") }
    }

    @Test func latexUseIsDetectedPerSceneAndThroughHelpers() async throws {
        let script = """
            from manim import *

            def label(text):
                return Text(text)

            class Plain(Scene):
                def construct(self):
                    self.add(label("hi"), Square())

            class Formula(Scene):
                def construct(self):
                    self.add(MathTex("e^{i\\\\pi}"))

            class Numbers(Scene):
                def construct(self):
                    self.add(NumberLine(include_numbers=True))
            """
        let scenes = try await discovery.scenes(in: script)
        #expect(scenes.map(\.requiresLaTeX) == [false, true, true])
    }

    @Test func selectingKeepsTheRequestedOrderAndRefusesUnknownOrRepeatedNames() throws {
        let scenes = ["A", "B", "C"].enumerated().map { DiscoveredScene(name: $1, line: $0, requiresLaTeX: false) }
        #expect(try SceneDiscovery.select(["C", "A"], from: scenes).map(\.name) == ["C", "A"])
        #expect(try SceneDiscovery.select(nil, from: scenes).map(\.name) == ["A", "B", "C"])
        #expect(throws: ScriptError.unknownScenes(["D"], available: ["A", "B", "C"])) {
            try SceneDiscovery.select(["A", "D"], from: scenes)
        }
        #expect(throws: ScriptError.duplicateScenes(["A"])) { try SceneDiscovery.select(["A", "A"], from: scenes) }
    }
}
