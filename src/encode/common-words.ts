// A few hundred common English words that get their own token ids (beyond the built-in dataset's vocabulary),
// chosen for image captions: articles, prepositions and spatial words, numbers, colours, sizes and materials,
// frequent nouns for things people photograph and draw, frequent verbs and adjectives, contraction suffixes and
// punctuation. Anything not listed still tokenizes (into a hash bucket, see tokenizer.ts); listing a word only
// gives it a collision-free id.
//
// ORDER MATTERS: ids are assigned in the order of `buildVocabulary` (dataset words first, then this list with
// duplicates skipped). A shipped model stores its vocabulary as JSON, so editing this list changes only newly
// built vocabularies, never the ids of an existing model. Append, do not reorder.
export const COMMON_WORDS: readonly string[] = Object.freeze(
  `
the a an this that these those it its there here some any each every all both no not only very
of in on at to from with without by for into onto over under above below behind beside between near next
around through across along against inside outside top bottom front back middle center centre left right side
up down out off far close together apart upon among toward towards beneath underneath
is are was were be been being has have had do does did can will would could should may might must
and or but so as than then too also just while when where which who what how why if
one two three four five six seven eight nine ten eleven twelve many few several single double pair group
first second third last half dozen hundred
red green blue yellow orange purple pink brown black white gray grey gold silver cyan magenta violet
teal navy beige dark light bright pale colorful colourful transparent striped spotted checkered
small large big little tiny huge giant tall short long wide narrow thick thin round flat square circle
triangle rectangle oval star heart line dot shape shapes circles squares triangles diamond diamonds
rectangles stars hearts lines dots cube sphere cone cylinder pyramid ring cross arrow
old new young beautiful pretty ugly happy sad cute funny empty full open closed clean dirty wet dry hot cold
soft hard smooth rough shiny wooden metal glass plastic stone paper fabric leather
man woman men women person people boy girl child children baby kid kids family friend friends crowd
dog dogs cat cats bird birds horse horses cow sheep fish bear lion tiger elephant giraffe zebra monkey rabbit
mouse duck chicken animal animals insect butterfly
car cars truck bus train plane airplane boat ship bicycle bike motorcycle vehicle road street highway bridge
house home building buildings city town village tower castle church school shop store window door wall roof
floor room kitchen bathroom bedroom table chair chairs bed sofa couch desk shelf lamp clock mirror picture
book books cup mug bottle plate bowl spoon fork knife box bag ball toy toys phone computer screen
food apple apples banana bananas fruit vegetable pizza cake bread sandwich coffee tea water milk
tree trees flower flowers grass plant plants leaf leaves forest garden park field farm hill mountain
mountains sky cloud clouds sun moon snow rain ice fire sea ocean beach lake river sand rock rocks island
desert night day morning evening sunset sunrise winter summer spring autumn fall weather
photo photograph image painting drawing sketch illustration render portrait landscape view scene
background foreground style art color colour pattern texture logo text sign word letter number
standing sitting lying walking running jumping flying swimming holding eating drinking playing looking
wearing riding carrying smiling sleeping reading writing watching waiting talking
stands sits lies walks runs jumps flies holds eats plays looks wears rides
hat shirt dress shoes coat jacket glasses hair face eyes hand hands head arm legs
's 't 're 've 'm 'll 'd
. , ! ? - : ; ' " ( ) & /
`
    .split(/\s+/)
    .filter((w) => w.length > 0),
);
