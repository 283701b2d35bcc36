## Editor plugin of the gdnat addon. The classes NatUPNP and NatUPNPDevice are registered by
## gdnat.gdextension whether or not this plugin is enabled; the plugin only exists so the addon
## shows up (with its description) in Project Settings > Plugins. It adds nothing to the editor.
@tool
extends EditorPlugin
